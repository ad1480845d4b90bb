"""The hosted update-card page's side of recovery: what the customer owes, the card on file, a
SetupIntent for Stripe.js, and — once Stripe.js has confirmed it — the new card made the default
and the invoice retried at once.

Every read is scoped by the workspace and campaign named in the signed link, so a link for one
workspace can never show or change another's customer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlite_utils import Database

from backstop import clock
from backstop.connectors.stripe import (
    StripeFailure,
    StripeGateway,
    StripeInvalidRequest,
    StripeNotFound,
    stripe_id,
    stripe_path,
)
from backstop.db import one, write_transaction
from backstop.recovery import campaigns, links, steps
from backstop.recovery import policy as rules
from backstop.recovery.campaigns import card_on_file
from backstop.recovery.model import Campaign, CampaignStatus
from backstop.settings import Settings
from backstop.stripe_sync import connection, lookups
from backstop.stripe_sync.objects import ref_id

log = logging.getLogger("backstop.recovery")

SOURCE = "update_card_page"

# What the page can be showing; each has its own words in the template.
STATES = ("form", "expired", "invalid", "paid", "closed", "unreachable", "unavailable")


@dataclass
class PageView:
    state: str
    workspace_id: int | None = None
    campaign: Campaign | None = None
    plan_name: str | None = None
    card: dict | None = None
    client_secret: str | None = None
    publishable_key: str | None = None
    stripe_account: str | None = None
    problem: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def read_link(db: Database, secret_key: str, token: str) -> tuple[str, int | None, Campaign | None]:
    """(state, workspace id, campaign) for a link. State is "ok", "expired" or "invalid"; an
    expired link still names its workspace (for the branding) when its signature is good."""
    try:
        workspace_id, campaign_id = links.read_update_card_token(secret_key, token)
    except links.LinkError as exc:
        if exc.reason == "expired":
            return "expired", _expired_workspace(db, secret_key, token), None
        return "invalid", None, None
    campaign = campaigns.find(db, workspace_id, campaign_id)
    if campaign is None:
        return "invalid", None, None
    return "ok", workspace_id, campaign


def _expired_workspace(db: Database, secret_key: str, token: str) -> int | None:
    serializer = URLSafeTimedSerializer(secret_key, salt="backstop.update-card.v1")
    valid, data = serializer.loads_unsafe(token)
    if not valid or not isinstance(data, dict) or not isinstance(data.get("w"), int):
        return None
    row = one(db, "SELECT id FROM workspaces WHERE id = ?", [data["w"]])
    return row["id"] if row else None


# -- card-only links (the card-expiry warning): no amount due, just a new default card -----------

CARD_LINK_MAX_AGE = 30 * 24 * 3600


def _card_serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt="backstop.card.v1")


def card_url(
    public_url: str, secret_key: str, workspace_id: int, customer_id: str, subscription_id: str
) -> str:
    token = _card_serializer(secret_key).dumps(
        {"w": workspace_id, "cus": customer_id, "sub": subscription_id}
    )
    return f"{public_url}/card/{token}"


def read_card_link(db: Database, secret_key: str, token: str) -> tuple[str, int | None, dict | None]:
    """("ok" | "expired" | "invalid", workspace id, a campaign-shaped dict for the customer)."""
    serializer = _card_serializer(secret_key)
    try:
        data = serializer.loads(token, max_age=CARD_LINK_MAX_AGE)
    except SignatureExpired:
        valid, data = serializer.loads_unsafe(token)
        ws = data.get("w") if valid and isinstance(data, dict) and isinstance(data.get("w"), int) else None
        row = one(db, "SELECT id FROM workspaces WHERE id = ?", [ws]) if ws else None
        return "expired", row["id"] if row else None, None
    except BadSignature:
        return "invalid", None, None
    if not isinstance(data, dict) or not isinstance(data.get("w"), int):
        return "invalid", None, None
    sub = lookups.subscription_of_customer(db, data["w"], data.get("sub"), data.get("cus"))
    if sub is None:
        return "invalid", None, None
    return (
        "ok",
        data["w"],
        {
            "id": None,
            "workspace_id": data["w"],
            "customer_id": sub["customer_id"],
            "subscription_id": sub["id"],
        },
    )


def card_page_view(
    db: Database, settings: Settings, token: str, gateway_for: Callable[[int], StripeGateway]
) -> PageView:
    state, workspace_id, target = read_card_link(db, settings.secret_key, token)
    if state != "ok":
        return PageView(state, workspace_id)
    view = PageView(
        "card_form",
        workspace_id,
        plan_name=lookups.subscription_plan_name(db, workspace_id, target["subscription_id"]),
    )
    view.card = lookups.paying_card(db, workspace_id, target["customer_id"], target["subscription_id"])
    keys = connection.browser_keys(db, settings, workspace_id)
    if keys is None:
        view.state = "unavailable"
        return view
    view.publishable_key, view.stripe_account = keys
    try:
        params = {"customer": target["customer_id"], "usage": "off_session", "payment_method_types": ["card"]}
        key = f"backstop-card-{target['subscription_id']}-{(view.card or {}).get('card_last4')}-{clock.now():%Y%m%d}"
        intent = gateway_for(workspace_id).post("/v1/setup_intents", params, idempotency_key=key)
        if intent.get("status") in ("succeeded", "canceled"):
            intent = gateway_for(workspace_id).post(
                "/v1/setup_intents", params, idempotency_key=f"{key}-{intent['id']}"
            )
        view.client_secret = intent["client_secret"]
    except Exception as exc:
        log.warning("card page for %s: %s", target["subscription_id"], exc)
        view.state = "unreachable"
    return view


def save_card(
    db: Database, target: dict, setup_intent_id: str, gateway_for: Callable[[int], StripeGateway]
) -> dict:
    """Make a confirmed SetupIntent's card the default on the customer and the subscription."""
    pm, gateway = _checked_intent(target["workspace_id"], target["customer_id"], setup_intent_id, gateway_for)
    pm_id = ref_id(pm)
    gateway.post(
        f"/v1/customers/{target['customer_id']}",
        {"invoice_settings": {"default_payment_method": pm_id}},
        idempotency_key=f"backstop-card-{setup_intent_id}-customer",
    )
    gateway.post(
        f"/v1/subscriptions/{target['subscription_id']}",
        {"default_payment_method": pm_id},
        idempotency_key=f"backstop-card-{setup_intent_id}-subscription",
    )
    return {"state": "saved", "card": card_from_payment_method(pm if isinstance(pm, dict) else None)}


def _checked_intent(
    workspace_id: int, customer_id: str | None, setup_intent_id, gateway_for
) -> tuple[Any, StripeGateway]:
    if stripe_id(setup_intent_id, "seti") is None:
        raise ConfirmError("That card setup wasn't recognised. Please enter your card again.")
    gateway = gateway_for(workspace_id)
    try:
        intent = gateway.get(
            stripe_path("v1", "setup_intents", setup_intent_id), {"expand": ["payment_method"]}
        )
    except (StripeNotFound, StripeInvalidRequest):
        raise ConfirmError("That card setup wasn't recognised. Please enter your card again.") from None
    if ref_id(intent.get("customer")) != customer_id:
        raise ConfirmError("That card setup belongs to someone else. Please enter your card again.", 403)
    if intent.get("status") != "succeeded" or not ref_id(intent.get("payment_method")):
        raise ConfirmError("Your card hasn't been confirmed yet. Please enter it again.")
    return intent.get("payment_method"), gateway


def card_from_payment_method(pm: dict | None) -> dict | None:
    card = (pm or {}).get("card") or {}
    if not card:
        return None
    return {
        "card_brand": card.get("brand"),
        "card_last4": card.get("last4"),
        "card_exp_month": card.get("exp_month"),
        "card_exp_year": card.get("exp_year"),
    }


def card_updates(db: Database, campaign_id: int) -> int:
    return db.execute(
        "SELECT COUNT(*) FROM campaign_events WHERE campaign_id = ? AND kind = 'card_updated'", [campaign_id]
    ).fetchone()[0]


def _setup_intent(gateway: StripeGateway, campaign: Campaign, attempt: int) -> dict:
    params = {
        "customer": campaign.customer_id,
        "usage": "off_session",
        "payment_method_types": ["card"],
        "metadata": {"backstop_campaign": str(campaign.id), "backstop_invoice": campaign.invoice_id},
    }
    key = f"backstop-{campaign.id}-setup-{attempt}"
    intent = gateway.post("/v1/setup_intents", params, idempotency_key=key)
    if intent.get("status") in ("succeeded", "canceled"):
        # The same link was used for a card that has been taken already; start a fresh intent.
        intent = gateway.post("/v1/setup_intents", params, idempotency_key=f"{key}-{intent['id']}")
    return intent


def invoice_state(invoice: dict) -> str | None:
    """ "paid", "closed" or None (still owed)."""
    status = invoice.get("status")
    if status == "paid":
        return "paid"
    if status in ("void", "uncollectible", "deleted") or invoice.get("deleted"):
        return "closed"
    return None


def page_view(
    db: Database, settings: Settings, token: str, gateway_for: Callable[[int], StripeGateway]
) -> PageView:
    state, workspace_id, campaign = read_link(db, settings.secret_key, token)
    if state != "ok":
        return PageView(state, workspace_id)
    view = PageView("form", workspace_id, campaign, plan_name=steps._plan_name(db, campaign))
    view.card = card_on_file(db, campaign)
    if campaign.status is CampaignStatus.RECOVERED:
        view.state = "paid"
        return view
    if not campaign.is_open:
        view.state = "closed"
        return view
    try:
        gateway = gateway_for(workspace_id)
        invoice = gateway.get(f"/v1/invoices/{campaign.invoice_id}")
        settled = invoice_state(invoice)
        if settled:
            view.state = settled
            return view
        keys = connection.browser_keys(db, settings, workspace_id)
        if keys is None:
            # Without a publishable key Stripe.js can't take a card here; Stripe's own hosted
            # invoice page can, so the customer is sent there instead of to a dead end.
            view.state = "unavailable"
            hosted = invoice.get("hosted_invoice_url")
            if isinstance(hosted, str) and hosted.startswith("https://"):
                view.extra["hosted_invoice_url"] = hosted
            return view
        view.publishable_key, view.stripe_account = keys
        intent = _setup_intent(gateway, campaign, card_updates(db, campaign.id) + 1)
        view.client_secret = intent["client_secret"]
    except StripeNotFound:
        view.state = "closed"
    except (StripeFailure, OSError) as exc:
        log.warning("update-card page for campaign %s: Stripe failed: %s", campaign.id, exc)
        view.state = "unreachable"
    except Exception as exc:  # a missing connection, a broken key: the customer can only retry
        log.warning("update-card page for campaign %s: %s", campaign.id, exc)
        view.state = "unreachable"
    return view


# -- after Stripe.js confirmed the card ----------------------------------------------------------


# What the pages treat as "Stripe can't be reached right now": the web layer catches this
# without knowing the connector's types.
UNREACHABLE: tuple[type[Exception], ...] = (StripeFailure, OSError)


class ConfirmError(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class ConfirmInterrupted(Exception):
    """``confirm`` stopped on an unexpected error. ``charge_started`` says whether it had got as
    far as asking Stripe to charge the invoice: before that, Backstop knows nothing was charged;
    after, only Stripe knows."""

    def __init__(self, cause: BaseException, *, charge_started: bool) -> None:
        super().__init__(f"{cause.__class__.__name__}: {cause}")
        self.cause = cause
        self.charge_started = charge_started


# What the page says after an interrupted confirm, by what is known.
NOT_CHARGED = (
    "We couldn't finish saving your card because of a problem on our side, and nothing was charged. "
    "Please try again in a minute."
)
CHECKING = (
    "Something went wrong on our side while your payment was being made. We're checking with the "
    "payment processor whether it went through; this page will update on its own."
)


def truth_after_error(
    campaign: Campaign, interrupted: ConfirmInterrupted, gateway_for: Callable[[int], StripeGateway]
) -> tuple[dict, int]:
    """What to tell the customer after ``confirm`` failed part-way: read the invoice from Stripe
    and say only what is known. (answer, HTTP status). Writes nothing: the database may be the
    thing that failed; the invoice's own events settle the campaign later."""
    try:
        invoice = gateway_for(campaign.workspace_id).get(stripe_path("v1", "invoices", campaign.invoice_id))
        settled = invoice_state(invoice)
    except Exception as exc:  # Stripe can't say either: fall back to what Backstop itself knows
        log.warning("campaign %s: invoice unreadable after an interrupted confirm: %s", campaign.id, exc)
        settled = "unknown"
    if settled == "paid":
        return {"state": "paid"}, 200
    if settled == "closed":
        return {"state": "closed"}, 200
    if not interrupted.charge_started:
        return {"state": "error", "message": NOT_CHARGED}, 503
    return {"state": "checking", "message": CHECKING}, 202


def confirm(
    db: Database,
    settings: Settings,
    campaign: Campaign,
    setup_intent_id: str,
    gateway_for: Callable[[int], StripeGateway],
) -> dict:
    """Check the SetupIntent is this customer's and succeeded, make its card the default on the
    customer and the subscription, then retry the invoice now. Returns the page's next state."""
    if stripe_id(setup_intent_id, "seti") is None:
        raise ConfirmError("That card setup wasn't recognised. Please enter your card again.")
    if not campaign.is_open:
        return status(db, campaign, gateway_for=None)
    progress = {"charge_started": False}
    try:
        return _confirm(db, settings, campaign, setup_intent_id, gateway_for, progress)
    except ConfirmError:
        raise
    except UNREACHABLE as exc:  # Stripe unreachable before the charge: the page's usual retry
        if not progress["charge_started"]:
            raise
        raise ConfirmInterrupted(exc, charge_started=True) from exc
    except Exception as exc:
        log.exception("campaign %s: confirming a new card failed", campaign.id)
        raise ConfirmInterrupted(exc, charge_started=progress["charge_started"]) from exc


def _confirm(
    db: Database,
    settings: Settings,
    campaign: Campaign,
    setup_intent_id: str,
    gateway_for: Callable[[int], StripeGateway],
    progress: dict,
) -> dict:
    pm, gateway = _checked_intent(campaign.workspace_id, campaign.customer_id, setup_intent_id, gateway_for)
    pm_id = ref_id(pm)
    key = f"backstop-{campaign.id}-{setup_intent_id}"
    gateway.post(
        f"/v1/customers/{campaign.customer_id}",
        {"invoice_settings": {"default_payment_method": pm_id}},
        idempotency_key=f"{key}-customer",
    )
    if campaign.subscription_id:
        try:
            gateway.post(
                f"/v1/subscriptions/{campaign.subscription_id}",
                {"default_payment_method": pm_id},
                idempotency_key=f"{key}-subscription",
            )
        except StripeInvalidRequest as exc:  # a canceled subscription: the invoice can still be paid
            log.info("campaign %s: subscription default not set: %s", campaign.id, exc.message)
    card = card_from_payment_method(pm if isinstance(pm, dict) else None)
    with write_transaction(db):
        retried = campaigns.card_changed(
            db, campaign.workspace_id, campaign.customer_id, SOURCE, pm_id, made_default=True
        )
        step = None
        if campaign.id in retried:
            step = one(
                db,
                "SELECT id FROM recovery_steps WHERE campaign_id = ? AND kind = 'retry' "
                "AND trigger = 'card_update' AND status = 'scheduled' ORDER BY id DESC LIMIT 1",
                [campaign.id],
            )
    if step is not None:
        progress["charge_started"] = True
        steps.run_step(db, step["id"], settings=settings, gateway_for=gateway_for)
    fresh = campaigns.find(db, campaign.workspace_id, campaign.id)
    # A retry that didn't finish (its step gave up and will run again) may still have charged the
    # card: while the campaign is open, Stripe's word on the invoice decides what the page says.
    answer = status(db, fresh, gateway_for=gateway_for if step is not None else None)
    answer["card"] = card
    return answer


def status(db: Database, campaign: Campaign, *, gateway_for: Callable[[int], StripeGateway] | None) -> dict:
    """Where the customer's payment stands, for the page's poll.

    "paid", "closed", "declined" (the retry with the new card was refused), or "waiting" (the
    retry hasn't answered yet). With a gateway, an in-flight campaign also asks Stripe whether
    the invoice got paid another way, so the page closes even before the event arrives.
    """
    if campaign.status is CampaignStatus.RECOVERED:
        return {"state": "paid"}
    if not campaign.is_open:
        return {"state": "closed"}
    if gateway_for is not None:
        try:
            invoice = gateway_for(campaign.workspace_id).get(f"/v1/invoices/{campaign.invoice_id}")
        except Exception as exc:  # the poll just keeps waiting; the page times out kindly
            log.info("status check for campaign %s: %s", campaign.id, exc)
        else:
            settled = invoice_state(invoice)
            if settled == "paid":
                with write_transaction(db):
                    campaigns.close(db, campaign.id, CampaignStatus.RECOVERED, "The invoice was paid")
                return {"state": "paid"}
            if settled:
                return {"state": "closed"}
    last = one(
        db,
        "SELECT a.outcome, a.decline_code FROM payment_attempts a WHERE a.campaign_id = ? "
        "AND a.trigger = 'card_update' ORDER BY a.id DESC LIMIT 1",
        [campaign.id],
    )
    pending = one(
        db,
        "SELECT id FROM recovery_steps WHERE campaign_id = ? AND kind = 'retry' AND trigger = 'card_update' "
        "AND status = 'scheduled'",
        [campaign.id],
    )
    if last and not pending and last["outcome"] in ("declined", "error"):
        return {"state": "declined", "message": rules.customer_message(last["decline_code"])}
    return {"state": "waiting"}
