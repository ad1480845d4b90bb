"""Events polling, the 72-hour reconciliation and `backstop stripe replay`, against the fake Stripe:
all of them feed the one ingest path, so nothing is taken in twice."""

from __future__ import annotations

from datetime import timedelta

import pytest

import jobs.stripe
from backstop import clock
from backstop.db import migrate
from backstop.stripe_sync import backfill, connection
from jobs import queue
from tests.stripe_sync.support import aimed_at, backstop_cli, cli_env, restricted_key

WHSEC = "whsec_acme_endpoint_secret_1234"


@pytest.fixture
def settings(settings, fake_stripe):
    return aimed_at(settings, fake_stripe)


@pytest.fixture
def jobs_inline(settings):
    queue.configure(settings, immediate=True)


def stored(db, workspace_id):
    return [
        dict(r)
        for r in db.execute(
            "SELECT event_id, type, source, outcome FROM stripe_events WHERE workspace_id = ? ORDER BY id",
            [workspace_id],
        ).fetchall()
    ]


def customer_name(db, customer_id):
    found = db.execute("SELECT name FROM stripe_customers WHERE id = ?", [customer_id]).fetchone()
    return found[0] if found else None


def rename_many(fake, stripe_client, count: int) -> list[str]:
    ids = []
    for n in range(count):
        cus = fake.create_customer(email=f"p{n}@example.com", name=f"Polled {n}")
        stripe_client.v1.customers.update(cus["id"], params={"name": f"Polled {n} renamed"})
        ids.append(cus["id"])
    return ids


def poll_connected(db, box, fake, workspace):
    """Connected without a webhook secret: polling every minute."""
    connection.save_key_connection(
        db, box, workspace.id, restricted_key(fake), False, webhook_secret=None, polling=True
    )


def test_polling_takes_in_new_events_from_the_cursor_once(
    db, box, acme, fake_stripe, stripe_client, jobs_inline
):
    before = fake_stripe.create_customer(email="old@example.com")  # the backfill's business
    poll_connected(db, box, fake_stripe, acme)
    assert jobs.stripe.poll_events.call_local() == 0  # the first poll only marks where we are
    assert stored(db, acme.id) == []
    assert connection.get(db, acme.id).last_polled_at is not None

    ids = rename_many(fake_stripe, stripe_client, 80)  # 160 events: more than one page
    assert jobs.stripe.poll_events.call_local() == 160
    rows = stored(db, acme.id)
    assert len(rows) == 160 and {r["source"] for r in rows} == {"poll"}
    assert {r["outcome"] for r in rows} == {"processed"}
    assert all(customer_name(db, cid).endswith("renamed") for cid in ids)
    assert customer_name(db, before["id"]) is None

    assert jobs.stripe.poll_events.call_local() == 0  # nothing new, nothing twice
    stripe_client.v1.customers.update(ids[0], params={"name": "Renamed again"})
    assert jobs.stripe.poll_events.call_local() == 1
    assert customer_name(db, ids[0]) == "Renamed again"
    assert len(stored(db, acme.id)) == 161


def test_polling_an_account_that_had_no_events_yet_misses_none(
    db, box, acme, fake_stripe, stripe_client, jobs_inline
):
    poll_connected(db, box, fake_stripe, acme)
    assert jobs.stripe.poll_events.call_local() == 0
    rename_many(fake_stripe, stripe_client, 75)  # 150 events after an empty first look
    assert jobs.stripe.poll_events.call_local() == 150
    assert len({r["event_id"] for r in stored(db, acme.id)}) == 150


def test_a_cursor_stripe_no_longer_keeps_takes_the_last_72_hours_and_syncs_again(
    db, box, acme, fake_stripe, stripe_client, jobs_inline
):
    poll_connected(db, box, fake_stripe, acme)
    # The laptop was off for over a month: its cursor fell out of Stripe's 30-day window.
    db.execute("UPDATE stripe_connections SET events_cursor = 'evt_1OlderThanThirtyDays0000'")
    fake_stripe.clock.set(int(clock.now_ts()) - 10 * 86_400)
    fake_stripe.create_customer(email="while-away@example.com")
    fake_stripe.clock.set(int(clock.now_ts()))
    rename_many(fake_stripe, stripe_client, 2)
    assert jobs.stripe.poll_events.call_local() == 4  # the last 72 hours, as reconciliation reads
    assert {r["type"] for r in stored(db, acme.id)} == {"customer.created", "customer.updated"}
    assert backfill.progress(db, acme.id).stage == "products"  # the rest comes from a fresh sync
    assert jobs.stripe.poll_events.call_local() == 0  # and it has a usable cursor again


def test_polling_skips_workspaces_that_take_webhooks(db, box, acme, fake_stripe, stripe_client, jobs_inline):
    connection.save_key_connection(
        db, box, acme.id, restricted_key(fake_stripe), False, webhook_secret=WHSEC, polling=False
    )
    rename_many(fake_stripe, stripe_client, 2)
    assert jobs.stripe.poll_events.call_local() == 0
    assert fake_stripe.requests.filter("GET", "/v1/events") == []


def test_reconciliation_takes_in_the_event_a_webhook_missed(
    client, db, box, acme, fake_stripe, stripe_client
):
    connection.save_key_connection(
        db, box, acme.id, restricted_key(fake_stripe), False, webhook_secret=WHSEC, polling=False
    )
    ids = rename_many(fake_stripe, stripe_client, 5)
    events = list(reversed(fake_stripe.events()))
    missed = next(
        e for e in events if e["type"] == "customer.updated" and e["data"]["object"]["id"] == ids[2]
    )
    for event in events:
        if event is not missed:
            body, headers = fake_stripe.webhooks.signed(event, WHSEC)
            assert client.post("/stripe/webhooks/acme", content=body, headers=headers).status_code == 200
    assert customer_name(db, ids[2]) == "Polled 2"  # the rename never arrived

    assert jobs.stripe.reconcile_events.call_local() == 1
    rows = stored(db, acme.id)
    assert len(rows) == len(events) == len({r["event_id"] for r in rows})
    assert [r["source"] for r in rows if r["event_id"] == missed["id"]] == ["reconcile"]
    assert customer_name(db, ids[2]) == "Polled 2 renamed"
    assert jobs.stripe.reconcile_events.call_local() == 0  # a second pass adds nothing


def test_reconciliation_reads_only_the_last_72_hours(db, box, acme, fake_stripe, stripe_client, jobs_inline):
    connection.save_key_connection(
        db, box, acme.id, restricted_key(fake_stripe), False, webhook_secret=WHSEC, polling=False
    )
    fake_stripe.clock.set(int(clock.now_ts()) - 4 * 86_400)
    fake_stripe.create_customer(email="long-ago@example.com")
    fake_stripe.clock.set(int(clock.now_ts()))
    fake_stripe.create_customer(email="recent@example.com")
    assert jobs.stripe.reconcile_events.call_local() == 1
    assert [r["type"] for r in stored(db, acme.id)] == ["customer.created"]
    listed = fake_stripe.requests.filter("GET", "/v1/events")
    assert int(listed[0].params["created"]["gte"]) == pytest.approx(clock.now_ts() - 72 * 3600, abs=5)


def test_a_failed_poll_is_logged_and_the_next_one_catches_up(
    db, box, acme, fake_stripe, stripe_client, jobs_inline
):
    poll_connected(db, box, fake_stripe, acme)
    jobs.stripe.poll_events.call_local()
    rename_many(fake_stripe, stripe_client, 3)
    fake_stripe.faults.server_error(count=5, path="/v1/events")
    assert run_poll_without_waiting(db, box, acme) is None
    assert stored(db, acme.id) == []
    assert jobs.stripe.poll_events.call_local() == 6


def run_poll_without_waiting(db, box, workspace):
    """One poll whose retries don't sleep; returns None when Stripe stayed down."""
    from backstop.connectors.stripe import StripeUnavailable
    from backstop.stripe_sync import polling

    settings = queue.settings()
    gateway = connection.gateway(db, box, settings, workspace.id, sleep=lambda s: None)
    try:
        return polling.poll(db, workspace.id, gateway)
    except StripeUnavailable:
        return None


# --- backstop stripe replay ---------------------------------------------------------------------


def test_replay_runs_stored_events_through_processing_again(
    client, db, box, settings, acme, fake_stripe, stripe_client
):
    connection.save_key_connection(
        db, box, acme.id, restricted_key(fake_stripe), False, webhook_secret=WHSEC, polling=False
    )
    ids = rename_many(fake_stripe, stripe_client, 4)
    for event in reversed(fake_stripe.events()):
        body, headers = fake_stripe.webhooks.signed(event, WHSEC)
        client.post("/stripe/webhooks/acme", content=body, headers=headers)
    db.execute("DELETE FROM stripe_customers WHERE workspace_id = ?", [acme.id])  # a mirror gone wrong

    migrate(settings.db_path)
    env = cli_env(settings.data_dir, settings, fake_stripe)
    result = backstop_cli(env, "stripe", "replay", "--workspace", "acme")
    assert result.returncode == 0, result.stderr
    assert "Replayed 8 events: 8 processed." in result.stdout
    assert [customer_name(db, cid) for cid in ids] == [f"Polled {n} renamed" for n in range(4)]
    assert len(stored(db, acme.id)) == 8  # replayed in place, not stored again

    later = (clock.now() + timedelta(days=1)).strftime("%Y-%m-%d")
    nothing = backstop_cli(env, "stripe", "replay", "--workspace", "acme", "--since", later)
    assert nothing.returncode == 0 and "Replayed 0 events: nothing to replay." in nothing.stdout
