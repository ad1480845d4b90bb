"""The webhook hot path's shortcuts must not change what a founder sees: a new signing secret
works at once, the body is kept as Stripe sent it, and "Last event" still moves."""

from __future__ import annotations

import json
import threading

from backstop.db import connect
from backstop.stripe_sync import connection
from backstop.workspaces.workspaces import create_workspace
from tests.stripe_sync.conftest import WHSEC, customer, deliver, make_event


def test_a_secret_changed_a_moment_ago_is_used_at_once(client, db, box, acme_connected):
    assert deliver(client, make_event("customer.created", customer("cus_1"))).status_code == 200
    # The founder rolls the endpoint's secret in Stripe and pastes the new one.
    connection.set_webhook(db, box, acme_connected.id, "whsec_rolled_secret_5678")
    fresh = deliver(
        client, make_event("customer.created", customer("cus_2")), secret="whsec_rolled_secret_5678"
    )
    assert fresh.status_code == 200 and fresh.json()["duplicate"] is False
    old = deliver(client, make_event("customer.created", customer("cus_3")), secret=WHSEC)
    assert old.status_code == 400 and "No signature matches" in old.json()["error"]["message"]
    ids = [r[0] for r in db.execute("SELECT object_id FROM stripe_events ORDER BY id").fetchall()]
    assert ids == ["cus_1", "cus_2"]


def test_the_event_is_stored_as_stripe_sent_it(client, db, acme_connected):
    event = make_event("customer.updated", customer("cus_raw", name="Zoë"))
    raw = json.dumps(event, indent=2, ensure_ascii=False).encode()
    assert deliver(client, event, body=raw).status_code == 200
    stored = db.execute("SELECT payload FROM stripe_events").fetchone()[0]
    assert stored.encode() == raw
    assert db.execute("SELECT name FROM stripe_customers WHERE id = 'cus_raw'").fetchone()[0] == "Zoë"


def test_a_disconnected_workspace_stops_taking_events(client, db, box, acme_connected):
    assert deliver(client, make_event("customer.created", customer("cus_1"))).status_code == 200
    connection.remove(db, acme_connected.id)
    response = deliver(client, make_event("customer.created", customer("cus_2")))
    assert response.status_code == 400
    assert [r[0] for r in db.execute("SELECT object_id FROM stripe_events").fetchall()] == ["cus_1"]


def test_the_last_event_time_is_recorded(client, db, acme_connected):
    assert connection.get(db, acme_connected.id).last_event_at is None
    deliver(client, make_event("customer.created", customer()))
    assert connection.get(db, acme_connected.id).last_event_at is not None


def test_a_delivery_waits_for_another_writer_without_holding_up_the_server(
    client, db, settings, acme_connected
):
    """While something else holds SQLite's write lock, a delivery is answered once its row is
    committed after the lock is let go, and the server goes on answering everyone else meanwhile."""
    other = connect(settings.db_path)
    other.execute("BEGIN IMMEDIATE")  # another writer: an admin save, a job, the CLI
    answers: list = []
    sender = threading.Thread(
        target=lambda: answers.append(deliver(client, make_event("customer.created", customer("cus_wait"))))
    )
    try:
        sender.start()
        sender.join(0.3)
        assert sender.is_alive(), "answered before the event could be written"
        assert client.get("/healthz").status_code == 200
        assert sender.is_alive()  # the health check was answered while the delivery still waited
        assert db.execute("SELECT count(*) FROM stripe_events").fetchone()[0] == 0
    finally:
        other.execute("COMMIT")
        other.conn.close()
    sender.join(10)
    assert answers and answers[0].status_code == 200 and answers[0].json()["duplicate"] is False
    assert [r[0] for r in db.execute("SELECT object_id FROM stripe_events").fetchall()] == ["cus_wait"]


def test_a_redelivery_is_a_duplicate_whichever_way_it_was_written(client, db, settings, acme_connected):
    event = make_event("customer.created", customer("cus_twice"))
    assert deliver(client, event).json()["duplicate"] is False  # written at once: nobody held the lock
    other = connect(settings.db_path)
    other.execute("BEGIN IMMEDIATE")
    answers: list = []
    sender = threading.Thread(target=lambda: answers.append(deliver(client, event)))
    sender.start()
    sender.join(0.2)
    waited = sender.is_alive()  # with the writer thread, for the lock
    other.execute("COMMIT")
    other.conn.close()
    sender.join(10)
    assert waited
    assert answers[0].status_code == 200 and answers[0].json()["duplicate"] is True
    assert db.execute("SELECT count(*) FROM stripe_events").fetchone()[0] == 1


def test_a_delivery_waits_while_the_event_processor_has_its_turn_and_nothing_stays_locked(
    client, db, acme_connected
):
    from backstop.stripe_sync import events

    answers: list = []
    sender = threading.Thread(
        target=lambda: answers.append(deliver(client, make_event("customer.created", customer("cus_turn"))))
    )
    with events.write_turn:  # the processor's chunk
        sender.start()
        sender.join(0.3)
        assert sender.is_alive()
    sender.join(10)
    assert answers[0].status_code == 200 and answers[0].json()["duplicate"] is False
    # Nothing is left held: the next delivery is written at once, and so is one after it.
    for cid in ("cus_next", "cus_last"):
        answer = deliver(client, make_event("customer.created", customer(cid)))
        assert answer.status_code == 200 and answer.json()["duplicate"] is False
    assert db.execute("SELECT count(*) FROM stripe_events").fetchone()[0] == 3


def test_json_in_another_unicode_encoding_is_still_taken(client, db, acme_connected):
    """Stripe sends UTF-8, read by the fast decoder; JSON is also valid in UTF-16, which the
    standard decoder reads, and the event is stored re-encoded."""
    event = make_event("customer.created", customer("cus_utf16", name="Zoë"))
    raw = json.dumps(event, ensure_ascii=False).encode("utf-16")
    answer = deliver(client, event, body=raw)
    assert answer.status_code == 200 and answer.json()["duplicate"] is False
    stored = json.loads(db.execute("SELECT payload FROM stripe_events").fetchone()[0])
    assert stored["data"]["object"]["name"] == "Zoë"


def test_a_delivery_for_another_workspace_is_not_held_up_by_one_waiting_to_be_written(
    client, db, box, settings, olivia, acme_connected
):
    """The first delivery to a workspace looks its secrets up; that read must not wait behind a
    delivery of another workspace that waits for the write lock."""
    beta, _ = create_workspace(db, box, "Beta", olivia.admin, "beta")
    connection.save_key_connection(
        db,
        box,
        beta.id,
        "rk_test_betaRestrictedKey123456",
        False,
        webhook_secret="whsec_beta_5678",
        polling=False,
    )
    other = connect(settings.db_path)
    other.execute("BEGIN IMMEDIATE")
    answers: dict[str, object] = {}
    waiting = threading.Thread(
        target=lambda: answers.setdefault(
            "acme", deliver(client, make_event("customer.created", customer("cus_a")))
        )
    )
    try:
        waiting.start()
        waiting.join(0.3)  # acme's event is with the writer thread, which waits for the lock
        second = threading.Thread(
            target=lambda: answers.setdefault(
                "beta",
                deliver(
                    client,
                    make_event("customer.created", customer("cus_b")),
                    slug="beta",
                    secret="whsec_beta_5678",
                ),
            )
        )
        second.start()
        second.join(0.3)
        assert client.get("/healthz").status_code == 200  # the event loop is free
        assert waiting.is_alive() and second.is_alive()  # both still wait for the lock
    finally:
        other.execute("COMMIT")
        other.conn.close()
    waiting.join(10)
    second.join(10)
    assert answers["acme"].status_code == 200 and answers["beta"].status_code == 200
    assert db.execute("SELECT count(*) FROM stripe_events").fetchone()[0] == 2
