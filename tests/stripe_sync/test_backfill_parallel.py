"""Lists read side by side and cut by creation time, under one pacer: against the fake Stripe through
the real SDK, with an account whose customers were created over two years."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from datetime import timedelta

import pytest
import time_machine

from backstop import clock
from backstop.connectors.stripe import RequestPacer
from backstop.db import connect as open_db
from backstop.stripe_sync import backfill, mirror
from tests.conftest import login
from tests.stripe_sync.support import (
    aimed_at,
    backstop_cli,
    backstop_popen,
    cli_env,
    connect,
    counts,
    run_backfill,
)

CUSTOMERS = 1_500


@pytest.fixture
def settings(settings, fake_stripe):
    return aimed_at(settings, fake_stripe)


@pytest.fixture
def account(fake_stripe):
    """1,500 customers created over 700 days, 300 of them subscribed today."""
    price = fake_stripe.create_price(2500)
    ids = fake_stripe.seed_customers(CUSTOMERS, spread_days=700)
    for cus in ids[-300:]:
        fake_stripe.make_card(customer=cus, default=True)
        fake_stripe.create_subscription(cus, price["id"])
    return ids


def customer_pages(fake, since: int = 0) -> list:
    return [
        r for r in list(fake.requests)[since:] if r.path == "/v1/customers" and r.params["limit"] == "100"
    ]


def test_every_object_is_listed_exactly_once_across_ranges(db, box, settings, acme, fake_stripe, account):
    row_id = connect(db, box, settings, acme, fake_stripe)
    fake_stripe.requests.clear()
    fake_stripe.faults.latency = 0.02
    assert run_backfill(db, box, settings, row_id) == "done"

    # The customer list was read as several creation-time ranges at once...
    bounds = {str(p.params.get("created")) for p in customer_pages(fake_stripe)}
    assert len(bounds) >= 3
    # ...that don't overlap: the pages' objects add up to the customers, none counted twice.
    done = backfill.progress(db, acme.id)
    assert done.counts["customers"] == counts(db, acme.id)["stripe_customers"] == CUSTOMERS
    assert done.counts["subscriptions"] == counts(db, acme.id)["stripe_subscriptions"] == 300
    # No page was asked for twice.
    asked = [
        (str(p.params.get("created")), p.params.get("starting_after")) for p in customer_pages(fake_stripe)
    ]
    assert len(asked) == len(set(asked))
    customers = {t.key: t for t in done.types}["customers"]
    assert customers.done and customers.estimated == customers.synced == CUSTOMERS
    assert done.finished_at and done.holder is None


def test_a_crash_mid_range_resumes_every_range_at_its_cursor(
    client, db, box, settings, olivia, acme, fake_stripe, account, monkeypatch
):
    row_id = connect(db, box, settings, acme, fake_stripe)
    written = {"n": 0}
    real_apply = mirror.apply_object

    def crashing_apply(db, workspace_id, obj, *args, **kwargs):
        written["n"] += obj.get("object") == "customer"
        if written["n"] == 850:  # the power goes in the middle of a page of customers
            raise RuntimeError("the machine lost power")
        return real_apply(db, workspace_id, obj, *args, **kwargs)

    monkeypatch.setattr(backfill.mirror, "apply_object", crashing_apply)
    assert run_backfill(db, box, settings, row_id) == "retrying"
    monkeypatch.setattr(backfill.mirror, "apply_object", real_apply)

    stopped = backfill.progress(db, acme.id)
    customers = {t.key: t for t in stopped.types}["customers"]
    # What committed is whole, and the estimate of the rest comes from the creation dates seen.
    assert counts(db, acme.id)["stripe_customers"] == customers.synced < CUSTOMERS
    assert customers.estimated is not None and 0.8 * CUSTOMERS <= customers.estimated <= 1.25 * CUSTOMERS
    assert stopped.holder is None  # the failed run let go of its claim
    login(client, olivia)
    page = client.get("/w/acme/settings/stripe").text
    assert (
        f'<td>Customers</td><td class="num">{customers.synced:,} of about {customers.estimated:,}</td>'
        in page
    )
    assert "Totals are estimates" in page

    cursors = {
        r.cursor for r in backfill._ranges(db, row_id) if r.stage == "customers" and r.cursor and not r.done
    }
    assert len(cursors) >= 2  # several ranges were under way
    since = len(fake_stripe.requests)
    with time_machine.travel(clock.now() + timedelta(seconds=6)):
        assert run_backfill(db, box, settings, row_id) == "done"
    resumed = customer_pages(fake_stripe, since)
    # Each unfinished range went on from its saved cursor, none from its start.
    assert cursors <= {p.params.get("starting_after") for p in resumed}
    assert counts(db, acme.id)["stripe_customers"] == CUSTOMERS
    assert backfill.progress(db, acme.id).counts["customers"] == CUSTOMERS  # nothing counted twice


def test_the_pacer_allows_the_rate_in_any_second_and_no_more():
    now = [0.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    pacer = RequestPacer(10, clock=lambda: now[0], sleep=sleep)
    sent = []
    for _ in range(35):
        pacer.acquire()
        sent.append(now[0])
        now[0] += 0.01  # each call takes 10 ms to send
    window = pacer.window
    assert window > 1.0
    most = max(sum(1 for t in sent if start <= t < start + 1.0) for start in sent)
    assert most == 10
    assert sent[10] - sent[0] >= window  # the 11th waits for the first to be a window old


def test_stripe_never_sees_more_than_the_rate_limit(db, box, settings, acme, fake_stripe, account):
    paced = aimed_at(settings, fake_stripe, stripe_rate_limit=10)
    row_id = connect(db, box, paced, acme, fake_stripe)
    fake_stripe.requests.clear()
    fake_stripe.faults.latency = 0.05
    assert run_backfill(db, box, paced, row_id) == "done"
    assert len(fake_stripe.requests) >= 25  # several seconds of paging
    assert fake_stripe.requests.busiest_second() <= 10
    assert counts(db, acme.id)["stripe_customers"] == CUSTOMERS


def wait_for_holder(settings, process, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        db = open_db(settings.db_path)
        try:
            found = db.execute("SELECT holder FROM stripe_backfills").fetchone()
        finally:
            db.conn.close()
        if found and found["holder"]:
            return found["holder"]
        time.sleep(0.02)
    raise AssertionError("the first sync never claimed the backfill")


def test_a_second_sync_says_who_holds_it_and_waits_instead_of_paging_again(
    db, box, settings, acme, fake_stripe, account
):
    connect(db, box, settings, acme, fake_stripe)
    env = cli_env(settings.data_dir, settings, fake_stripe, BACKSTOP_STRIPE_RATE_LIMIT="20")
    fake_stripe.requests.clear()
    fake_stripe.faults.latency = 0.05

    first = backstop_popen(env, "stripe", "sync", "--workspace", "acme")
    try:
        holder = wait_for_holder(settings, first)
        assert holder == f"{first.pid}@{socket.gethostname()}"
        second = backstop_cli(env, "stripe", "sync", "--workspace", "acme", timeout=120)
        _out, err = first.communicate(timeout=120)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == 0, err
    assert second.returncode == 0, second.stderr
    assert f"Another process is syncing this workspace: {holder}, since" in second.stderr
    assert "Waiting for it to finish" in second.stderr
    assert f"customers {CUSTOMERS}" in second.stdout  # it reports the finished copy
    # Only one of them paged the account: no page was asked for twice.
    asked = [
        (str(p.params.get("created")), p.params.get("starting_after")) for p in customer_pages(fake_stripe)
    ]
    assert len(asked) == len(set(asked))
    assert backfill.progress(db, acme.id).counts["customers"] == CUSTOMERS
    # The bar showed each type as synced / estimated.
    assert "Customers" in err and f"{CUSTOMERS:,}" in err


def test_the_claim_of_a_dead_holder_is_taken_over(db, box, settings, acme, fake_stripe):
    fake_stripe.seed_customers(120)
    row_id = connect(db, box, settings, acme, fake_stripe)
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead = f"{gone.stdout.strip()}@{socket.gethostname()}"
    db.execute(
        "UPDATE stripe_backfills SET work_state = 'working', claimed_until = ?, holder = ?, holder_since = ?",
        [clock.iso(clock.now() + timedelta(minutes=2)), dead, clock.iso()],
    )
    assert backfill.holder(db, acme.id) is None  # its process is gone from this machine
    assert run_backfill(db, box, settings, row_id) == "done"
    assert counts(db, acme.id)["stripe_customers"] == 120


def test_a_live_holder_elsewhere_is_waited_for_until_its_heartbeat_stops(
    db, box, settings, acme, fake_stripe
):
    fake_stripe.seed_customers(120)
    row_id = connect(db, box, settings, acme, fake_stripe)
    db.execute(
        "UPDATE stripe_backfills SET work_state = 'working', claimed_until = ?, holder = ?, holder_since = ?",
        [clock.iso(clock.now() + timedelta(minutes=2)), "4242@worker-2", clock.iso()],
    )
    held = backfill.holder(db, acme.id)
    assert held is not None and held.name == "4242@worker-2"
    assert backfill.resume_or_start(db, acme.id, restart=True) == row_id  # not reset underneath it
    assert run_backfill(db, box, settings, row_id) is None
    assert counts(db, acme.id)["stripe_customers"] == 0
    with time_machine.travel(clock.now() + timedelta(minutes=3)):  # no heartbeat for three minutes
        assert backfill.holder(db, acme.id) is None
        assert run_backfill(db, box, settings, row_id) == "done"
    assert counts(db, acme.id)["stripe_customers"] == 120
