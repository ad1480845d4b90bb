"""“Simulate a failed renewal”: a subscription's renewal fails in the stand-in, and Stripe's
``invoice.payment_failed`` event goes through the same ingest and handlers as a real webhook's, so
the campaign opens, Backstop takes over and the first dunning email is queued end to end."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from sqlite_utils import Database

from backstop import clock
from backstop.db import write_transaction
from backstop.demo.seed import DECLINES, _invoice, _weighted
from backstop.demo.stand_in import DemoStripe, typed
from backstop.workspaces.errors import ValidationError


def failed_renewal(db: Database, workspace_id: int, account: DemoStripe) -> str:
    """Make the next renewal of a paying subscription fail; return the customer's name. The
    failure arrives as a stored Stripe event: the caller asks the jobs to process it."""
    from backstop.stripe_sync import events

    rng = random.Random()  # noqa: S311 - which made-up customer fails, not security
    with account.lock:
        # A subscription whose renewal failed is past_due in Stripe until it is paid or canceled.
        candidates = [s for s in account.of_kind("subscription") if s["status"] == "active"]
        if not candidates:
            raise ValidationError("Every demo subscription is already failing; close a campaign first.")
        sub = rng.choice(candidates)
        item = sub["items"]["data"][0]
        start = datetime.fromtimestamp(item["current_period_end"], tz=UTC)
        start = min(start, clock.now())
        n = int(sub["id"][-4:])
        index = 50 + sum(1 for o in account.of_kind("invoice") if o["customer"] == sub["customer"])
        invoice = _invoice(
            account, n, index, sub, item["price"], start, start + timedelta(days=30), paid=False
        )
        decline = _weighted(rng, DECLINES)
        account.scripts[invoice["id"]] = {"decline_code": decline, "pays_on_attempt": 2}
        sub["status"] = "past_due"
        sub["latest_invoice"] = invoice["id"]
        event = {
            "id": account.new_id("evt"),
            "object": "event",
            "type": "invoice.payment_failed",
            "created": int(clock.now_ts()),
            "livemode": False,
            "api_version": "demo",
            "data": {"object": typed(invoice)},
        }
        name = account.objects[sub["customer"]]["name"]
    with write_transaction(db):
        events.ingest_event(db, workspace_id, event, "demo")
    return name
