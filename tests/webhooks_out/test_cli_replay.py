"""``backstop webhooks replay``, run for real: it queues every logged event of the period to the
endpoint (with the original ids) for the server to send, and says so."""

from __future__ import annotations

from datetime import timedelta

import stripe
import time_machine
from huey import SqliteHuey

from backstop import clock
from backstop.db import write_transaction
from backstop.webhooks_out import endpoints, events
from tests.builders import Backstop
from tests.webhooks_out.conftest import run_due


def test_it_queues_the_period_for_the_server_and_the_events_arrive_with_their_ids(
    db, box, acme, settings, outbound, receiver
):
    with write_transaction(db):
        endpoint, secret = endpoints.create_endpoint(
            db, box, acme.id, url=receiver.url, events=["cancel.saved"], allow_private=True
        )
    start = clock.now().replace(microsecond=0)
    logged = []
    for day, type in enumerate(["recovery.opened", "recovery.recovered", "winback.recorded"]):
        with time_machine.travel(start - timedelta(days=3 - day), tick=False), write_transaction(db):
            logged.append(events.record_event(db, acme.id, type, {"n": day}))
    assert receiver.requests == []  # the endpoint subscribes to none of them

    backstop = Backstop(settings.data_dir)
    since = (start - timedelta(days=2, hours=1)).strftime("%Y-%m-%dT%H:%M:%S")
    result = backstop("webhooks", "replay", "--endpoint", endpoint.public_id, "--since", since)
    assert result.returncode == 0, result.stderr
    assert f"Queued 2 events for {receiver.url}" in result.stdout
    # The tasks wait in jobs.db for the server's consumer.
    assert len(SqliteHuey("backstop", filename=str(settings.jobs_db_path))) == 2
    assert run_due(db, outbound) == ["delivered", "delivered"]
    got = [
        stripe.Webhook.construct_event(r.body, r.headers["x-backstop-signature"], secret)
        for r in receiver.requests
    ]
    assert [e["id"] for e in got] == logged[1:]

    nothing = backstop(
        "webhooks",
        "replay",
        "--endpoint",
        endpoint.public_id,
        "--since",
        "2001-01-01",
        "--until",
        "2001-02-01",
    )
    assert nothing.returncode == 0 and "nothing to replay" in nothing.stdout


def test_it_explains_an_unknown_endpoint_and_a_backwards_period(db, settings):
    backstop = Backstop(settings.data_dir)
    result = backstop("webhooks", "replay", "--endpoint", "we_nope", "--since", "2026-01-01")
    assert result.returncode == 2 and "No webhook endpoint we_nope" in result.stderr
    result = backstop(
        "webhooks", "replay", "--endpoint", "we_x", "--since", "2026-01-02", "--until", "2026-01-01"
    )
    assert result.returncode == 2 and "--until must come after --since" in result.stderr
