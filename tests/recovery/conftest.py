"""A workspace connected to the fake Stripe, and a way to feed it the fake's events."""

from dataclasses import replace

import pytest

from backstop.recovery import steps
from backstop.stripe_sync import connection, events


@pytest.fixture
def stripe_settings(settings, fake_stripe):
    return replace(settings, stripe_api_base=fake_stripe.url, stripe_connect_base=fake_stripe.url)


@pytest.fixture
def connected(db, box, acme, fake_stripe, stripe_settings):
    key = fake_stripe.add_key()
    connection.save_key_connection(db, box, acme.id, key, False, webhook_secret=None, polling=True)
    return acme


class Loop:
    """Feeds the fake's events to Backstop in order and runs due recovery steps, as the jobs do."""

    def __init__(self, db, box, settings, fake, workspace):
        self.db, self.box, self.settings, self.fake, self.ws = db, box, settings, fake, workspace
        self.seen: set[str] = set()

    def gateway(self, workspace_id):
        return connection.gateway(self.db, self.box, self.settings, workspace_id)

    def pump_events(self, limit: int | None = None) -> list[str]:
        new = [e for e in reversed(self.fake.events()) if e["id"] not in self.seen][:limit]
        processed = []
        for event in new:
            self.seen.add(event["id"])
            row_id, _ = events.ingest_event(self.db, self.ws.id, event, "webhook")

            def fetch_for(ws_id):
                gw = self.gateway(ws_id)
                return lambda path, params=None: gw.get(path, params)

            events.process_event(self.db, row_id, fetch_for, self.settings)
            processed.append(event["type"])
        return processed

    def run_due(self) -> list[str]:
        outcomes = []
        for step_id in steps.due_step_ids(self.db):
            outcomes.append(
                steps.run_step(self.db, step_id, settings=self.settings, gateway_for=self.gateway)
            )
        return outcomes

    def settle(self, one_event_at_a_time: bool = False) -> None:
        """Events and steps until nothing changes (a step's Stripe call makes new events).
        ``one_event_at_a_time`` runs due steps after every event, as a busy worker pool might."""
        for _ in range(30):
            if not self.pump_events(1 if one_event_at_a_time else None) and not [
                o for o in self.run_due() if o
            ]:
                return


@pytest.fixture
def loop(db, box, stripe_settings, fake_stripe, connected):
    return Loop(db, box, stripe_settings, fake_stripe, connected)
