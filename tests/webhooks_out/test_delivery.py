"""Deliveries as a receiver sees them: signed so Stripe's own library and Standard Webhooks
libraries verify them, retried with backoff when the receiver fails, and an endpoint that fails
for 5 days disabled with its owners told."""

from __future__ import annotations

import json
import random
from datetime import timedelta

import pytest
import standardwebhooks
import stripe
import time_machine

from backstop import clock
from backstop.db import write_transaction
from backstop.webhooks_out import delivery, endpoints, events, policy
from tests.webhooks_out.conftest import run_due


def make_endpoint(db, box, ws, url, types=("recovery.opened",)):
    with write_transaction(db):
        return endpoints.create_endpoint(db, box, ws.id, url=url, events=list(types), allow_private=True)


def record(db, ws, type="recovery.opened", data=None):
    with write_transaction(db):
        return events.record_event(db, ws.id, type, data or {"campaign_id": 1})


def verify_with_stripe(received, secret):
    return stripe.Webhook.construct_event(received.body, received.headers["x-backstop-signature"], secret)


def test_a_delivery_verifies_with_stripes_library_and_standard_webhooks(db, box, acme, outbound, receiver):
    endpoint, secret = make_endpoint(db, box, acme, receiver.url)
    event_id = record(db, acme, data={"campaign_id": 4, "amount_due": {"amount": 4900, "currency": "usd"}})
    receiver.wait_for(1)  # sent right after the commit, not at the next sweep
    got = receiver.requests[0]
    event = verify_with_stripe(got, secret)
    assert event["id"] == event_id and event["type"] == "recovery.opened"
    assert event.to_dict()["data"]["amount_due"] == {"amount": 4900, "currency": "usd"}
    assert standardwebhooks.Webhook(secret).verify(got.body, got.headers)["id"] == event_id
    assert got.headers["user-agent"] == "Backstop-Webhooks/1"
    assert got.headers["content-type"] == "application/json"
    assert got.headers["webhook-id"] == event_id
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(got.body, got.headers["x-backstop-signature"], endpoints.new_secret())
    with pytest.raises(stripe.SignatureVerificationError):  # a re-serialized body no longer matches
        reserialized = json.dumps(json.loads(got.body), indent=2).encode()
        stripe.Webhook.construct_event(reserialized, got.headers["x-backstop-signature"], secret)
    (row,) = delivery.deliveries_for(db, endpoint.id)
    assert row["status"] == "delivered" and row["attempts"] == 1


def test_a_receiver_that_fails_five_times_then_recovers_gets_the_event(db, box, acme, outbound, receiver):
    _, secret = make_endpoint(db, box, acme, receiver.url)
    receiver.answer(500, b"database is down", times=4)
    receiver.answer(404, times=1)
    start = clock.now()
    with time_machine.travel(start, tick=False) as traveller:
        event_id = record(db, acme)
        receiver.wait_for(1)
        waited = []
        for attempt in range(2, 7):
            (row,) = db.execute("SELECT due_at, work_state FROM webhook_deliveries").fetchall()
            assert row["work_state"] == "pending"
            wait = clock.parse(row["due_at"]) - clock.now()
            waited.append(wait)
            assert run_due(db, outbound) == []  # not due yet
            traveller.shift(wait)
            assert run_due(db, outbound) == ["delivered" if attempt == 6 else "retry"]
    assert len(receiver.requests) == 6
    assert all(verify_with_stripe(r, secret)["id"] == event_id for r in receiver.requests)
    # Exponential with jitter: each wait roughly doubles the one before.
    assert all(0.8 * 30 * 2**i <= w.total_seconds() <= 1.2 * 30 * 2**i for i, w in enumerate(waited))
    attempts = delivery.attempts_for(db, db.execute("SELECT id FROM webhook_deliveries").fetchone()[0])
    assert [a["attempt"] for a in attempts] == [1, 2, 3, 4, 5, 6]
    assert [a["response_status"] for a in attempts] == [500, 500, 500, 500, 404, 200]
    assert attempts[0]["response_excerpt"] == "database is down"
    assert attempts[0]["error"] == "The endpoint answered HTTP 500."


def test_retries_go_on_for_at_least_72_hours_then_stop(db, box, acme, outbound, receiver):
    make_endpoint(db, box, acme, receiver.url)
    receiver.answer(503, times=1000)
    start = clock.now()
    with time_machine.travel(start, tick=False) as traveller:
        record(db, acme)
        while True:
            row = db.execute("SELECT due_at, work_state, status FROM webhook_deliveries").fetchone()
            if row["work_state"] != "pending":
                break
            traveller.move_to(clock.parse(row["due_at"]))
            run_due(db, outbound)
        last = clock.now()
    assert row["status"] == "failed"
    assert last - start >= timedelta(hours=72)
    assert last - start < timedelta(hours=72) + policy.MAX_INTERVAL * 1.3
    assert 15 <= len(receiver.requests) <= 30


def test_the_schedule_has_jitter():
    rand = random.Random(7)
    delays = {policy.retry_delay(3, rand) for _ in range(5)}
    assert len(delays) == 5 and all(timedelta(seconds=96) <= d <= timedelta(seconds=144) for d in delays)


def test_a_redirect_is_a_failure_and_is_not_followed(db, box, acme, outbound, receiver):
    endpoint, _ = make_endpoint(db, box, acme, receiver.url)
    receiver.answer(302, headers={"Location": "http://10.0.0.1/steal"})
    record(db, acme)
    receiver.wait_for(1)
    (row,) = delivery.deliveries_for(db, endpoint.id)
    assert row["status"] == "pending" and "redirect" in row["last_error"]
    assert len(receiver.requests) == 1


def test_a_receiver_down_for_5_days_gets_its_endpoint_disabled_and_the_owner_emailed(
    db, box, acme, olivia, outbound, receiver
):
    endpoint, _ = make_endpoint(db, box, acme, receiver.url)
    receiver.answer(503, times=10_000)
    start = clock.now()
    with time_machine.travel(start, tick=False) as traveller:
        for day in range(6):  # an event a day while the receiver is down
            traveller.move_to(start + timedelta(days=day))
            run_due(db, outbound)
            record(db, acme)
            if day < 5:
                assert endpoints.get_endpoint(db, acme.id, endpoint.public_id).enabled
        run_due(db, outbound)
    fresh = endpoints.get_endpoint(db, acme.id, endpoint.public_id)
    assert not fresh.enabled and fresh.disabled_reason == "Every delivery failed for 5 days."
    (mail,) = db.execute(
        "SELECT to_email, subject, text FROM email_messages WHERE kind = 'webhook_disabled'"
    ).fetchall()
    assert mail["to_email"] == olivia.admin.email
    assert receiver.url in mail["subject"] and "HTTP 503" in mail["text"]
    # Nothing more goes to a disabled endpoint: its pending deliveries are canceled when due.
    sent = len(receiver.requests)
    with time_machine.travel(start + timedelta(days=7), tick=False):
        record(db, acme)
        run_due(db, outbound)
    assert len(receiver.requests) == sent
    assert (
        db.execute("SELECT COUNT(*) FROM webhook_deliveries WHERE work_state = 'pending'").fetchone()[0] == 0
    )


def test_one_success_resets_the_failure_streak(db, box, acme, outbound, receiver):
    endpoint, _ = make_endpoint(db, box, acme, receiver.url)
    start = clock.now()
    with time_machine.travel(start, tick=False) as traveller:
        receiver.answer(500)
        record(db, acme)
        assert endpoints.get_endpoint(db, acme.id, endpoint.public_id).failing_since is not None
        traveller.shift(timedelta(days=4))
        record(db, acme)  # goes through
        assert endpoints.get_endpoint(db, acme.id, endpoint.public_id).failing_since is None


def test_during_a_rotation_both_secrets_sign_for_24_hours_then_only_the_new_one(
    db, box, acme, outbound, receiver
):
    endpoint, old = make_endpoint(db, box, acme, receiver.url)
    start = clock.now()
    with time_machine.travel(start, tick=False) as traveller:
        with write_transaction(db):
            _, new = endpoints.rotate_secret(db, box, acme.id, endpoint.public_id)
        record(db, acme)
        receiver.wait_for(1)
        during = receiver.requests[-1]
        assert during.headers["x-backstop-signature"].count("v1=") == 2
        assert during.headers["webhook-signature"].count("v1,") == 2
        for secret in (old, new):
            verify_with_stripe(during, secret)
            standardwebhooks.Webhook(secret).verify(during.body, during.headers)
        traveller.shift(timedelta(hours=24, seconds=1))
        record(db, acme)
        receiver.wait_for(2)
        after = receiver.requests[-1]
        assert after.headers["x-backstop-signature"].count("v1=") == 1
        verify_with_stripe(after, new)
        with pytest.raises(stripe.SignatureVerificationError):
            verify_with_stripe(after, old)


def test_the_secret_is_stored_encrypted(db, box, acme, outbound):
    _, secret = make_endpoint(db, box, acme, "http://127.0.0.1:9/x")
    stored = db.execute("SELECT secret_enc FROM webhook_endpoints").fetchone()[0]
    assert secret not in stored and secret.startswith("whsec_")
    assert box.decrypt(stored) == secret


def test_test_ping_redeliver_and_replay(db, box, acme, outbound, receiver):
    endpoint, secret = make_endpoint(db, box, acme, receiver.url, types=("recovery.opened", "recovery.lost"))
    start = clock.now()
    with time_machine.travel(start, tick=False) as traveller:
        ping_id = delivery.send_test(db, acme.id, endpoint.public_id)
        receiver.wait_for(1)
        ping = verify_with_stripe(receiver.requests[0], secret)
        assert ping["id"] == ping_id and ping["type"] == "ping"
        first = record(db, acme, "recovery.opened")
        traveller.shift(timedelta(days=2))
        second = record(db, acme, "recovery.lost")
        receiver.wait_for(3)
        row = next(d for d in delivery.deliveries_for(db, endpoint.id) if d["event_id"] == first)
        delivery.redeliver(db, acme.id, endpoint.public_id, row["id"])
        receiver.wait_for(4)
        assert receiver.requests[3].body == receiver.requests[1].body  # same event, same bytes
        assert verify_with_stripe(receiver.requests[3], secret)["id"] == first
        replayed = delivery.replay(db, acme.id, endpoint.public_id, clock.iso(start - timedelta(minutes=1)))
        receiver.wait_for(6)
    assert len(replayed) == 2  # the two logged events; the ping is not part of the log
    assert [r.event["id"] for r in receiver.requests[4:]] == [first, second]
    assert delivery.redeliver(db, acme.id, endpoint.public_id, 999_999) is None


def test_a_workspace_cannot_redeliver_or_replay_to_another_workspaces_endpoint(
    db, box, acme, olivia, outbound
):
    from backstop.workspaces.workspaces import create_workspace

    zebra, _ = create_workspace(db, box, "Zebra", olivia.admin, "zebra")
    theirs, _ = make_endpoint(db, box, zebra, "http://127.0.0.1:9/x")
    assert delivery.send_test(db, acme.id, theirs.public_id) is None
    assert delivery.replay(db, acme.id, theirs.public_id, "2000-01-01") is None
    assert endpoints.get_endpoint(db, acme.id, theirs.public_id) is None
