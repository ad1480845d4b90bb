"""What a cancel-flow page shows, built once for customers and for the admin's Simulate.

Every sentence here is complete without optional data: a missing date or plan name changes the
sentence, it never leaves a blank (or "None") in it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sqlite_utils import Database

from backstop.cancel_flows import runtime
from backstop.cancel_flows.document import Flow, Node, Offer
from backstop.lib.money import money
from backstop.stripe_sync.prices import get_price

DEFAULT_TITLES = {
    "survey": "Before you go — what's the main reason?",
    "stories": "Before you decide",
    "confirm": "Cancel your subscription?",
}
OFFER_HEADLINES = {
    "discount": "Stay for less",
    "pause": "Take a break instead",
    "downgrade": "Switch to a smaller plan",
    "gift": "Have some months on us",
    "call": "Talk to us first",
    "trial_extension": "Take more time to try it",
    "annual_upsell": "Save with yearly billing",
}


@dataclass
class PageView:
    kind: str  # survey | stories | offer | confirm | done | pending | problem
    title: str
    node: Node | None = None
    offer: Offer | None = None
    offer_facts: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    outcome: str | None = None
    offer_kind: str | None = None
    booking_url: str | None = None
    return_href: str | None = None
    return_host: str | None = None
    refresh: bool = False
    status: int = 200


def _date(ts: int | float | None) -> str | None:
    if not ts:
        return None
    when = datetime.fromtimestamp(ts, UTC)
    return f"{when:%B} {when.day}, {when.year}"  # strftime's %-d is not on every platform


def _months(n: object) -> str:
    return f"{n} month{'' if n == 1 else 's'}"


def _plan_label(db: Database, workspace_id: int, price_id: str | None) -> str | None:
    price = get_price(db, workspace_id, price_id)
    if price is None:
        return None
    name = price.nickname or price.product_name
    every = price.interval if price.interval_count == 1 else f"{price.interval_count} {price.interval}s"
    amount = f"{money(price.unit_amount, price.currency)} / {every}"
    return f"{name} — {amount}" if name else amount


def discount_words(offer: dict | Offer) -> str:
    get = offer.get if isinstance(offer, dict) else lambda k: getattr(offer, k, None)
    if get("amount_off") and get("currency"):
        off = f"{money(get('amount_off'), get('currency'))} off"
    else:
        off = f"{get('percent_off')}% off"
    months = get("duration_months")
    if months == "forever":
        return f"{off} for as long as you stay"
    if months == 1:
        return f"{off} your next invoice"
    return f"{off} for the next {_months(months)}"


def offer_facts(db: Database, workspace_id: int, offer: Offer) -> list[str]:
    """The offer's terms, in words, under its headline."""
    kind = offer.kind
    if kind == "discount":
        return [discount_words(offer).capitalize()]
    if kind == "pause":
        return [f"No charges for {_months(offer.months)}; your subscription picks up again after that."]
    if kind == "gift":
        return (
            [f"Your next {_months(offer.months)} free."] if offer.months != 1 else ["Your next month free."]
        )
    if kind == "trial_extension":
        return [f"{offer.days} more days of your trial, free."]
    if kind in ("downgrade", "annual_upsell"):
        label = _plan_label(db, workspace_id, offer.price_id)
        facts = [f"New plan: {label}."] if label else []
        if kind == "annual_upsell":
            if offer.percent_off:
                facts.append(f"That's {offer.percent_off}% less than paying monthly.")
            facts.append("Yearly billing starts today, so the first year is invoiced now.")
        return facts
    if kind == "call":
        return ["A short call with our team, at a time that suits you."]
    return []


def offer_headline(offer: Offer) -> str:
    return offer.headline or OFFER_HEADLINES.get(offer.kind, "An offer before you go")


def step_view(db: Database, workspace_id: int, flow: Flow, walk: dict) -> PageView:
    node = runtime.current(flow, walk)
    if node is None:  # a flow with nowhere to go: the customer can still cancel
        return PageView("confirm", DEFAULT_TITLES["confirm"])
    if node.type == "offer":
        offer = runtime.offer_of(node, walk["variants"].get(node.id))
        if offer is None:
            return PageView("confirm", DEFAULT_TITLES["confirm"], node=node)
        return PageView(
            "offer",
            offer_headline(offer),
            node=node,
            offer=offer,
            offer_facts=offer_facts(db, workspace_id, offer),
        )
    return PageView(
        node.type, node.title or DEFAULT_TITLES.get(node.type, "Cancel your subscription?"), node=node
    )


def with_outcome(url: str, outcome: str) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "outcome"]
    query.append(("outcome", outcome))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


def done_lines(
    db: Database,
    workspace_id: int,
    *,
    outcome: str,
    offer: dict | None,
    cancel_at: str,
    period_end: int | None,
    result: dict | None,
) -> list[str]:
    """What happened, in the customer's words."""
    kind = (offer or {}).get("kind")
    result = result or {}
    if outcome == "canceled":
        if cancel_at == "immediately":
            return ["Your subscription has been canceled. You won't be charged again."]
        until = _date(result.get("cancel_at") or period_end)
        if until:
            return [
                f"Your subscription is canceled. You keep access until {until}, and you won't be charged again."
            ]
        return [
            "Your subscription is canceled. You keep access until the end of the period you've paid for, "
            "and you won't be charged again."
        ]
    if kind is None:
        return ["Your subscription continues exactly as before. Nothing has changed."]
    if kind == "discount":
        return [f"Done — {discount_words(offer)} is on your subscription. Thank you for staying."]
    if kind == "pause":
        until = _date(result.get("resumes_at"))
        if until:
            return [
                f"Your subscription is paused. You won't be charged until {until}; it picks up again then."
            ]
        return [
            f"Your subscription is paused for {_months(offer.get('months'))}. You won't be charged until then."
        ]
    if kind in ("downgrade", "annual_upsell"):
        label = _plan_label(db, workspace_id, offer.get("price_id"))
        return [f"You're now on {label}." if label else "Your plan has been switched."]
    if kind == "gift":
        return [f"Your next {_months(offer.get('months'))} are on us. Thank you for staying."]
    if kind == "trial_extension":
        return [f"Your trial now runs {offer.get('days')} more days."]
    if kind == "call":
        return [
            "Thanks — pick a time below and we'll talk it through. Your subscription continues meanwhile."
        ]
    return ["Thank you for staying."]


def done_view(
    db: Database,
    workspace_id: int,
    *,
    outcome: str,
    offer: dict | None,
    cancel_at: str,
    period_end: int | None,
    result: dict | None,
    return_url: str | None,
) -> PageView:
    kind = (offer or {}).get("kind")
    title = "Your subscription is canceled" if outcome == "canceled" else "You're all set"
    view = PageView(
        "done",
        title,
        outcome=outcome,
        offer_kind=kind or ("none" if outcome != "canceled" else None),
        lines=done_lines(
            db,
            workspace_id,
            outcome=outcome,
            offer=offer,
            cancel_at=cancel_at,
            period_end=period_end,
            result=result,
        ),
        booking_url=(offer or {}).get("booking_url") if kind == "call" else None,
    )
    if return_url:
        view.return_href = with_outcome(return_url, outcome)
        view.return_host = urlsplit(return_url).hostname
    return view


def pending_view(outcome: str, last_error: str | None) -> PageView:
    cancel = outcome == "canceled"
    if not last_error:
        return PageView(
            "pending",
            "One moment…",
            lines=["We're applying your choice to your subscription. This page updates by itself."],
            refresh=True,
            outcome=outcome,
        )
    what = "cancellation" if cancel else "choice"
    return PageView(
        "pending",
        f"Your {what} is recorded",
        lines=[
            f"Our billing system didn't answer just now, so your {what} isn't applied yet. We'll keep "
            "trying automatically — you don't need to do anything, and you can close this page.",
        ],
        refresh=False,
        outcome=outcome,
    )


PROBLEMS = {
    "expired": (
        410,
        "This link has expired",
        "Cancel links only work for a few minutes. Go back and choose Cancel again.",
    ),
    "reused": (
        410,
        "This link was already used",
        "Each cancel link opens once. Go back and choose Cancel again to start over.",
    ),
    "gone": (
        404,
        "This page isn't available",
        "The link may have been cut short. Go back and choose Cancel again.",
    ),
    "no_subscription": (
        404,
        "There's nothing to cancel",
        "We couldn't find an open subscription on your account, so there's nothing to cancel here.",
    ),
    "invalid": (
        400,
        "This link isn't valid",
        "Something in the link doesn't check out. Go back and choose Cancel again.",
    ),
    "form": (
        403,
        "That didn't go through",
        "This form has gone stale. Reload the page and try again.",
    ),
}


def problem_view(name: str) -> PageView:
    status, title, line = PROBLEMS[name]
    return PageView("problem", title, lines=[line], status=status)
