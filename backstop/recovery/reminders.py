"""Reminders that keep a paying customer paying: a warning before the card on file expires, and
a note when a trial is about to turn into a paid subscription."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlite_utils import Database

from backstop import clock
from backstop.db import write_transaction
from backstop.email.branding import get_branding
from backstop.recovery.campaigns import plan_for_price
from backstop.settings import Settings
from backstop.stripe_sync import lookups
from backstop.stripe_sync.events import EventContext, on
from backstop.stripe_sync.objects import ref_id

log = logging.getLogger("backstop.recovery")


def _card_end(exp_month: int, exp_year: int) -> datetime:
    """A card works through the last day of its expiry month."""
    if exp_month == 12:
        return datetime(exp_year + 1, 1, 1, tzinfo=UTC)
    return datetime(exp_year, exp_month + 1, 1, tzinfo=UTC)


def expiring_cards(db: Database, workspace_id: int | None = None) -> list[dict]:
    """Active subscriptions whose paying card (the subscription's own default, else the
    customer's) stops working before the next renewal."""
    rows = lookups.renewing_subscriptions_with_cards(db, workspace_id)
    found = []
    for row in rows:
        if not row["current_period_end"] or not row["card_exp_month"]:
            continue
        renews = datetime.fromtimestamp(row["current_period_end"], UTC)
        if _card_end(row["card_exp_month"], row["card_exp_year"]) <= renews:
            found.append(row)
    return found


def card_link(settings: Settings, workspace_id: int, customer_id: str, subscription_id: str) -> str:
    from backstop.recovery import update_card

    return update_card.card_url(
        settings.public_url, settings.secret_key, workspace_id, customer_id, subscription_id
    )


def queue_card_expiry_warnings(db: Database, settings: Settings) -> int:
    """Queue one warning per card and billing period (the dedupe key says which)."""
    from backstop.email.messages import queue_email

    queued = 0
    for row in expiring_cards(db):
        if not row["email"]:
            continue
        with write_transaction(db):
            result = queue_email(
                db,
                settings,
                workspace_id=row["workspace_id"],
                kind="card_expiry",
                to_email=row["email"],
                to_name=row["name"],
                context={
                    "card_brand": (row["card_brand"] or "card").capitalize(),
                    "card_last4": row["card_last4"],
                    "exp_month": row["card_exp_month"],
                    "exp_year": row["card_exp_year"],
                    "plan_name": row["plan_name"] or "your subscription",
                    "update_card_url": card_link(
                        settings, row["workspace_id"], row["customer_id"], row["subscription_id"]
                    ),
                },
                dedupe_key=f"card_expiry:{row['pm_id']}:{row['current_period_end']}",
                customer_id=row["customer_id"],
            )
        queued += int(result.created)
    return queued


def _trial_end_date(ts: int) -> str:
    day = datetime.fromtimestamp(ts, UTC)
    return f"on {day.day} {day.strftime('%B')}"


@on("customer.subscription.trial_will_end", stage=90)
def trial_ending(ctx: EventContext) -> None:
    from backstop.email.messages import queue_email

    if ctx.settings is None:
        raise RuntimeError("trial reminders need the settings; process events through jobs.stripe")
    sub = ctx.object
    customer_id = ref_id(sub.get("customer"))
    trial_end = sub.get("trial_end")
    if not customer_id or not trial_end or sub.get("status") != "trialing":
        return
    customer = lookups.customer_contact(ctx.db, ctx.workspace_id, customer_id, include_deleted=False)
    if not customer or not customer["email"]:
        return
    branding = get_branding(ctx.db, ctx.workspace_id)
    if not branding.reply_to:
        # The email's button lets the customer change plans or cancel first; until the hosted
        # portal exists that is a reply to the founder, so without a reply-to address we wait.
        log.info("trial reminder for %s skipped: the workspace has no reply-to address", sub["id"])
        return
    items = ((sub.get("items") or {}).get("data")) or []
    price = (items[0].get("price") if items else None) or {}
    plan = plan_for_price(ctx.db, ctx.workspace_id, ref_id(price))
    queued = queue_email(
        ctx.db,
        ctx.settings,
        workspace_id=ctx.workspace_id,
        kind="trial_ending",
        to_email=customer["email"],
        to_name=customer["name"],
        context={
            "plan_name": (plan or {}).get("name") or "your plan",
            "trial_end_date": _trial_end_date(trial_end),
            "amount": price.get("unit_amount") if isinstance(price, dict) else None,
            "currency": price.get("currency") if isinstance(price, dict) else None,
            "manage_url": f"mailto:{branding.reply_to}",
        },
        dedupe_key=f"trial_ending:{sub['id']}:{trial_end}",
        customer_id=customer_id,
    )
    if queued.created and queued.status == "queued":
        _record_trial_event(ctx, sub, customer, price, plan, queued.id)


def _record_trial_event(
    ctx: EventContext, sub: dict, customer: dict, price: dict, plan: dict, email_id: int
) -> None:
    from backstop.webhooks_out.events import record_event, trial_reminder_data

    price = price if isinstance(price, dict) else {}
    data = trial_reminder_data(
        customer_id=ref_id(sub.get("customer")),
        customer_email=customer["email"],
        subscription_id=sub["id"],
        trial_end=sub["trial_end"],
        price_id=ref_id(price) if price else None,
        plan_name=(plan or {}).get("name"),
        amount=price.get("unit_amount"),
        currency=price.get("currency"),
        email_id=email_id,
    )
    record_event(ctx.db, ctx.workspace_id, "trial.reminder_sent", data)


def today() -> str:
    return clock.now().date().isoformat()
