"""The event log: one event row and one delivery per subscribed, enabled endpoint, written in the
caller's transaction (and gone with it when it rolls back), handed to the queue after commit."""

from __future__ import annotations

import json

import pytest

from backstop.db import write_transaction
from backstop.webhooks_out import endpoints, events


@pytest.fixture
def dispatched():
    """The delivery rows handed to the jobs as their transaction commits."""
    from backstop.lib import workrows

    seen: list[list[int]] = []
    workrows.on_ready(lambda table, row_id: seen.append([row_id]) if table == "webhook_deliveries" else None)
    yield seen
    workrows.on_ready(None)


def _endpoint(db, box, ws, event_types, *, enabled=True):
    with write_transaction(db):
        endpoint, _ = endpoints.create_endpoint(
            db,
            box,
            ws.id,
            url="http://127.0.0.1:9/hook",
            events=event_types,
            enabled=enabled,
            allow_private=True,
        )
    return endpoint


def test_it_logs_the_event_and_a_delivery_per_subscribed_enabled_endpoint(db, box, acme, dispatched):
    wanted = _endpoint(db, box, acme, ["recovery.opened", "recovery.lost"])
    _endpoint(db, box, acme, ["cancel.saved"])  # not subscribed
    _endpoint(db, box, acme, ["recovery.opened"], enabled=False)  # disabled
    data = {"campaign_id": 7, "amount_due": {"amount": 2900, "currency": "usd"}}
    with write_transaction(db):
        event_id = events.record_event(db, acme.id, "recovery.opened", data)
        assert dispatched == []  # nothing is handed out before the change commits
    assert event_id.startswith("evt_")
    row = events.get_event(db, acme.id, event_id)
    body = json.loads(row["body"])
    assert body["id"] == event_id and body["type"] == "recovery.opened" and body["data"] == data
    assert body["livemode"] is False and body["created_at"].endswith("Z")
    deliveries = db.execute("SELECT id, endpoint_id, work_state FROM webhook_deliveries").fetchall()
    assert [(d["endpoint_id"], d["work_state"]) for d in deliveries] == [(wanted.id, "pending")]
    assert dispatched == [[deliveries[0]["id"]]]


def test_a_rolled_back_change_leaves_no_event_and_nothing_dispatched(db, box, acme, dispatched):
    _endpoint(db, box, acme, ["recovery.opened"])
    with pytest.raises(RuntimeError, match="the change failed"), write_transaction(db):
        events.record_event(db, acme.id, "recovery.opened", {"campaign_id": 1})
        raise RuntimeError("the change failed")
    assert db.execute("SELECT COUNT(*) FROM webhook_events").fetchone()[0] == 0
    assert db.execute("SELECT COUNT(*) FROM webhook_deliveries").fetchone()[0] == 0
    assert dispatched == []


def test_it_refuses_an_unknown_type(db, acme):
    with write_transaction(db), pytest.raises(ValueError, match="not an outbound webhook event type"):
        events.record_event(db, acme.id, "recovery.exploded", {})
    assert db.execute("SELECT COUNT(*) FROM webhook_events").fetchone()[0] == 0


def test_outside_a_transaction_it_writes_and_dispatches_on_its_own(db, box, acme, dispatched):
    _endpoint(db, box, acme, ["recovery.lost"])
    event_id = events.record_event(db, acme.id, "recovery.lost", {"campaign_id": 3})
    assert events.get_event(db, acme.id, event_id) is not None
    assert not db.conn.in_transaction
    assert len(dispatched) == 1


def test_an_event_nobody_subscribes_to_is_still_logged_for_replay(db, acme):
    with write_transaction(db):
        event_id = events.record_event(db, acme.id, "winback.recorded", {"customer_id": "cus_1"})
    assert events.get_event(db, acme.id, event_id)["type"] == "winback.recorded"
    assert db.execute("SELECT COUNT(*) FROM webhook_deliveries").fetchone()[0] == 0


def test_a_savepoint_rolled_back_inside_a_transaction_drops_only_its_dispatch(db, box, acme, dispatched):
    _endpoint(db, box, acme, ["recovery.opened", "recovery.lost"])
    with write_transaction(db):
        events.record_event(db, acme.id, "recovery.opened", {"campaign_id": 1})
        with pytest.raises(RuntimeError), write_transaction(db):
            events.record_event(db, acme.id, "recovery.lost", {"campaign_id": 1})
            raise RuntimeError("inner step failed")
    types = [r[0] for r in db.execute("SELECT type FROM webhook_events").fetchall()]
    assert types == ["recovery.opened"]
    assert len(dispatched) == 1
    assert db.execute("SELECT COUNT(*) FROM webhook_deliveries").fetchone()[0] == 1
