"""10,000 customers copied by `backstop stripe sync`, killed with SIGKILL half-way, then resumed."""

from __future__ import annotations

import json
import math
import re
import signal
import time

import pytest

from backstop.db import connect as open_db
from backstop.stripe_sync import backfill
from tests.stripe_sync.support import aimed_at, backstop_cli, backstop_popen, cli_env, connect, counts

CUSTOMERS = 10_000
SUBSCRIBED = 1_000
PER_OBJECT = re.compile(r"^/v1/(customers|subscriptions|products|prices|invoices|payment_methods)/")


@pytest.fixture
def settings(settings, fake_stripe):
    return aimed_at(settings, fake_stripe)


def wait_for_customers(settings, at_least: int, process, timeout: float = 60) -> dict:
    """Watch the sync's own progress row from outside, as the Settings page does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        db = open_db(settings.db_path)
        try:
            found = db.execute("SELECT counts FROM stripe_backfills").fetchone()
        finally:
            db.conn.close()
        progress = json.loads(found["counts"])
        if progress.get("customers", 0) >= at_least:
            return dict(found)
        time.sleep(0.02)
    raise AssertionError("the sync made no progress")


def pages(fake, path: str) -> list:
    """The list pages asked for (not the one-object pages that look for a list's oldest object)."""
    return [r for r in fake.requests.filter("GET", path) if r.params.get("limit") == "100"]


def test_a_killed_sync_of_ten_thousand_customers_resumes_without_refetching(
    db, box, settings, acme, fake_stripe
):
    price = fake_stripe.create_price(2500)
    ids = fake_stripe.seed_customers(CUSTOMERS)
    for cus in ids:
        fake_stripe.make_card(customer=cus, default=True)
    for cus in ids[:SUBSCRIBED]:
        fake_stripe.create_subscription(cus, price["id"])
    connect(db, box, settings, acme, fake_stripe)
    env = cli_env(settings.data_dir, settings, fake_stripe)
    fake_stripe.requests.clear()

    first = backstop_popen(env, "stripe", "sync", "--workspace", "acme")
    wait_for_customers(settings, 3_000, first)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    assert first.returncode == -signal.SIGKILL
    calls_first = len(pages(fake_stripe, "/v1/customers"))

    # What the killed run committed is whole: every counted customer is in the mirror, once.
    stopped = backfill.progress(db, acme.id)
    assert stopped.finished_at is None and stopped.stage == "customers"
    assert counts(db, acme.id)["stripe_customers"] == stopped.counts["customers"] >= 3_000

    second = backstop_cli(env, "stripe", "sync", "--workspace", "acme", timeout=300)
    assert second.returncode == 0, second.stderr
    assert f"customers {CUSTOMERS}" in second.stdout

    mirrored = counts(db, acme.id)
    assert mirrored["stripe_customers"] == CUSTOMERS
    assert mirrored["stripe_payment_methods"] == CUSTOMERS
    assert mirrored["stripe_subscriptions"] == SUBSCRIBED
    assert mirrored["stripe_invoices"] == SUBSCRIBED
    done = backfill.progress(db, acme.id)
    assert done.counts["customers"] == CUSTOMERS  # no page was counted (or written) twice
    assert done.counts["subscriptions"] == SUBSCRIBED

    # Both runs together: one list call per hundred objects, plus for each created-time range the
    # list was cut into its last, partial page, and the pages in flight at the kill; nothing
    # fetched one object at a time.
    slack = 2 * backfill.lanes_for(settings.stripe_rate_limit)
    lists = {
        path: len(pages(fake_stripe, path))
        for path in ("/v1/customers", "/v1/subscriptions", "/v1/invoices", "/v1/products", "/v1/prices")
    }
    assert lists["/v1/customers"] <= math.ceil(CUSTOMERS / 100) + slack
    assert lists["/v1/subscriptions"] <= math.ceil(SUBSCRIBED / 100) + slack
    assert lists["/v1/invoices"] <= math.ceil(SUBSCRIBED / 100) + 2 + slack  # + open and uncollectible
    assert lists["/v1/products"] == lists["/v1/prices"] == 1
    assert [r.path for r in fake_stripe.requests if PER_OBJECT.search(r.path)] == []
    # The second run started from the saved cursor, not from the beginning.
    resumed = pages(fake_stripe, "/v1/customers")[calls_first:]
    assert resumed[0].params.get("starting_after")
    assert len(resumed) < math.ceil(CUSTOMERS / 100) - 25
