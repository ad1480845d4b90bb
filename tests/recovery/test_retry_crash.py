"""A worker killed with SIGKILL between "charge attempted" and "result recorded" must not lead to a
second charge: the retry runs again once its lease has lapsed, with the same idempotency key, and
Stripe replays the first answer instead of charging the card again."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
import time_machine

from backstop import clock
from backstop.recovery import campaigns
from tests.conftest import ROOT


def charges_succeeded(fake, customer_id):
    return [e for e in fake.events("charge.succeeded") if e["data"]["object"]["customer"] == customer_id]


def wait_for(predicate, what: str, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    pytest.fail(f"timed out waiting for {what}")


@pytest.mark.parametrize("mode", ["in_flight", "after_answer"])
def test_a_worker_killed_mid_charge_never_charges_twice(
    db, settings, stripe_settings, fake_stripe, loop, connected, mode
):
    story = fake_stripe.customer_with_declining_card("insufficient_funds", unit_amount=4900)
    invoice = fake_stripe.renewal_fails(story.subscription["id"])
    loop.settle()
    campaign = campaigns.by_invoice(db, connected.id, invoice["id"])
    (retry,) = campaigns.pending_steps_of_kind(db, campaign["id"], "retry")
    fake_stripe.set_card_decline(story.payment_method["id"], None)  # payday: the retry will go through
    paid_before = len(charges_succeeded(fake_stripe, story.customer["id"]))
    pay_path = f"/v1/invoices/{invoice['id']}/pay"
    key = f"backstop-{campaign['id']}-attempt-1"
    if mode == "in_flight":
        fake_stripe.faults.slow(4, path=pay_path)  # Stripe takes its time; the worker dies waiting

    at = clock.parse(retry["due_at"]) + timedelta(minutes=1)
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.recovery.retry_child",
            str(settings.data_dir),
            settings.secret_key,
            fake_stripe.url,
            str(retry["id"]),
            clock.iso(at),
            mode,
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for(lambda: fake_stripe.requests.filter("POST", pay_path), "the worker's charge request")
        if mode == "in_flight":
            child.send_signal(signal.SIGKILL)
        child.wait(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    output = child.stdout.read().decode()
    assert child.returncode == -signal.SIGKILL, output
    assert "finished" not in output
    (first,) = fake_stripe.requests.filter("POST", pay_path)
    wait_for(lambda: first.status is not None, "Stripe to finish the charge")
    assert first.status == 200 and first.idempotency_key == key
    assert fake_stripe.get(invoice["id"])["status"] == "paid"  # Stripe charged; Backstop never heard
    assert db.execute("SELECT COUNT(*) FROM payment_attempts").fetchone()[0] == 0

    with time_machine.travel(at + timedelta(minutes=2), tick=False):
        loop.run_due()  # the day-3 email goes out; the dead worker's lease still holds the retry
        assert len(fake_stripe.requests.filter("POST", pay_path)) == 1
        assert db.execute("SELECT work_state FROM recovery_steps WHERE id = ?", [retry["id"]]).fetchone()[
            0
        ] == ("working")
    with time_machine.travel(at + steps_lease() + timedelta(minutes=1), tick=False):
        assert "recovered" in loop.run_due()  # the step runs again, before the paid event is read
        loop.settle()

    pays = fake_stripe.requests.filter("POST", pay_path)
    assert [(p.idempotency_key, p.replayed) for p in pays] == [(key, False), (key, True)]
    assert len(charges_succeeded(fake_stripe, story.customer["id"])) == paid_before + 1
    assert fake_stripe.get(invoice["id"])["amount_paid"] == 4900
    attempts = [dict(r) for r in db.execute("SELECT idempotency_key, outcome FROM payment_attempts")]
    assert attempts == [{"idempotency_key": key, "outcome": "succeeded"}]
    fresh = campaigns.get(db, connected.id, campaign["id"])
    assert fresh["status"] == "recovered" and fresh["our_attempts"] == 1
    kinds = [t["kind"] for t in campaigns.timeline(db, campaign["id"])]
    assert kinds.count("retry_attempted") == 1 and kinds.count("recovered") == 1


def steps_lease() -> timedelta:
    from backstop.recovery.steps import LEASE

    return LEASE
