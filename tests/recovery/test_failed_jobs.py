"""A job that fails gives its row back at once with a short growing pause and says why; the
five-minute lease is only for a process that died. The clock is moved, nothing sleeps."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import timedelta

import pytest
import time_machine
from litestar.testing import TestClient

from backstop import clock
from backstop.db import one
from backstop.email import messages
from backstop.recovery import campaigns
from tests.conftest import login


@pytest.fixture
def client(stripe_settings, db) -> Iterator[TestClient]:
    from backstop.web.app import create_app

    with TestClient(app=create_app(stripe_settings, run_jobs=False), base_url="http://127.0.0.1") as c:
        yield c


@pytest.fixture
def frozen() -> Iterator[time_machine.Coordinates]:
    with time_machine.travel(clock.now().replace(microsecond=0), tick=False) as traveller:
        yield traveller


def dunning_step(db) -> dict:
    return one(db, "SELECT * FROM recovery_steps WHERE kind = 'dunning' AND seq = 1")


def test_a_failing_dunning_step_is_released_at_once_with_a_growing_backoff_and_its_error(
    db, fake_stripe, loop, connected, monkeypatch, frozen, client, olivia
):
    real_queue_email = messages.queue_email

    def locked(*args, **kwargs):
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(messages, "queue_email", locked)
    story = fake_stripe.customer_with_declining_card("insufficient_funds")
    invoice = fake_stripe.renewal_fails(story.subscription["id"])
    loop.settle()
    campaign = campaigns.by_invoice(db, connected.id, invoice["id"])

    step = dunning_step(db)
    assert (step["work_state"], step["status"], step["attempts"]) == ("pending", "scheduled", 1)
    assert step["claimed_until"] is None  # not held for the five-minute lease
    assert step["last_error"] == "OperationalError: database is locked"
    assert clock.parse(step["due_at"]) == clock.now() + timedelta(seconds=5)

    assert loop.run_due() == []  # not due again before its pause is over
    frozen.shift(timedelta(seconds=5))
    assert loop.run_due() == ["retrying"]
    step = dunning_step(db)
    assert step["attempts"] == 2 and clock.parse(step["due_at"]) == clock.now() + timedelta(seconds=10)

    login(client, olivia)
    page = client.get(f"/w/acme/recovery/{campaign['id']}").text
    planned = page.split("Still planned", 1)[1]
    assert "Failed 2 times: OperationalError: database is locked" in planned

    monkeypatch.setattr(messages, "queue_email", real_queue_email)
    frozen.shift(timedelta(seconds=10))
    assert loop.run_due() == ["queued"]
    step = dunning_step(db)
    assert (step["status"], step["work_state"], step["last_error"]) == ("done", "done", None)
    assert db.execute("SELECT COUNT(*) FROM email_messages WHERE kind = 'dunning_1'").fetchone()[0] == 1


def test_the_backoff_grows_from_five_seconds_and_stops_at_five_minutes(
    db, fake_stripe, loop, connected, frozen
):
    from backstop.lib import workrows

    story = fake_stripe.customer_with_declining_card("insufficient_funds")
    fake_stripe.renewal_fails(story.subscription["id"])
    loop.pump_events()
    step_id = dunning_step(db)["id"]
    pauses = []
    for attempts in range(1, 10):
        db.execute(
            "UPDATE recovery_steps SET work_state = 'working', attempts = ? WHERE id = ?", [attempts, step_id]
        )
        due = workrows.release_failed(db, "recovery_steps", step_id, RuntimeError("boom"))
        pauses.append(int((due - clock.now()).total_seconds()))
    assert pauses == [5, 10, 20, 40, 80, 160, 300, 300, 300]
    assert dunning_step(db)["last_error"] == "RuntimeError: boom"


def test_a_row_whose_worker_died_still_waits_out_its_lease(db, fake_stripe, loop, connected, frozen):
    from backstop.lib import workrows
    from backstop.recovery import steps

    story = fake_stripe.customer_with_declining_card("insufficient_funds")
    fake_stripe.renewal_fails(story.subscription["id"])
    loop.pump_events()
    step_id = dunning_step(db)["id"]
    assert workrows.claim(db, "recovery_steps", step_id, lease=steps.LEASE)  # then the process dies
    assert step_id not in steps.due_step_ids(db)
    frozen.shift(steps.LEASE - timedelta(seconds=1))
    assert step_id not in steps.due_step_ids(db)
    frozen.shift(timedelta(seconds=2))
    assert step_id in steps.due_step_ids(db)


def test_the_first_dunning_email_is_handed_to_the_jobs_when_its_step_commits(
    db, fake_stripe, loop, connected
):
    from backstop.lib import workrows

    ready: list[tuple[str, int, bool]] = []
    workrows.on_ready(lambda table, row_id: ready.append((table, row_id, db.conn.in_transaction)))
    try:
        story = fake_stripe.customer_with_declining_card("insufficient_funds")
        fake_stripe.renewal_fails(story.subscription["id"])
        loop.settle()
    finally:
        workrows.on_ready(None)
    [message_id] = [r[0] for r in db.execute("SELECT id FROM email_messages WHERE kind = 'dunning_1'")]
    assert ("email_messages", message_id, False) in ready  # after the commit, not inside it


def test_work_queued_in_a_transaction_that_rolls_back_is_never_announced(db, acme, settings):
    from backstop.db import write_transaction
    from backstop.email.kinds import KINDS
    from backstop.email.messages import queue_email
    from backstop.lib import workrows

    ready: list[tuple[str, int]] = []
    workrows.on_ready(lambda table, row_id: ready.append((table, row_id)))
    try:
        with pytest.raises(RuntimeError), write_transaction(db):
            queue_email(
                db, settings, workspace_id=acme.id, kind="dunning_1", to_email="sam@example.com",
                context=KINDS["dunning_1"].sample,
            )  # fmt: skip
            raise RuntimeError("the cause failed")
        assert ready == []
        queued = queue_email(
            db, settings, workspace_id=acme.id, kind="dunning_1", to_email="sam@example.com",
            context=KINDS["dunning_1"].sample,
        )  # fmt: skip
    finally:
        workrows.on_ready(None)
    assert ready == [("email_messages", queued.id)]
