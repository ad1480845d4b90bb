"""Walking a flow: the rules a customer's clicks follow, with no I/O.

A walk's state is a plain dict (stored on the session row, or carried in the Simulate page's
URL). ``step`` answers one form post with the next state and, when the customer has decided,
a ``Decision``: the outcome and the Stripe action that carries it out. Sessions and Simulate
use the same functions, so what an admin simulates is what a customer gets.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from backstop.cancel_flows.document import STRIPE_FEEDBACK, Flow, Node, Offer, offer_to_json

OUTCOMES = ("saved_discount", "saved_pause", "saved_downgrade", "saved_other", "canceled", "abandoned")
SAVED = tuple(o for o in OUTCOMES if o.startswith("saved_"))
OUTCOME_FOR_KIND = {"discount": "saved_discount", "pause": "saved_pause", "downgrade": "saved_downgrade"}
ACTIONS = ("reason", "next", "accept", "decline", "cancel", "keep")
MAX_FREE_TEXT = 2000
_MAX_HOPS = 64


# --- stable assignment ------------------------------------------------------------------------


def bucket(*parts: object) -> float:
    """A number in [0, 100) that only depends on ``parts``: the same customer lands in the same
    place every time, and different customers spread evenly."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 * 100


def choose_arm(
    workspace_id: int, customer_id: str, flow_id: int, holdout_percent: int, versions: list[tuple[int, int]]
) -> tuple[int | None, bool]:
    """(version id, in holdout) for this customer. ``versions`` is [(version id, traffic %)].
    Holdout and version are drawn from separate hashes, so changing the holdout does not move
    customers between versions."""
    holdout = bucket("holdout", workspace_id, customer_id, flow_id) < max(0, min(100, holdout_percent))
    live = [(vid, pct) for vid, pct in versions if pct > 0]
    if not live:
        return None, holdout
    total = sum(pct for _, pct in live)
    point = bucket("version", workspace_id, customer_id, flow_id) / 100 * total
    for vid, pct in live:
        if point < pct:
            return vid, holdout
        point -= pct
    return live[-1][0], holdout


def choose_variant(workspace_id: int, customer_id: str, flow_id: int, node: Node) -> str | None:
    """The offer variant this customer sees on this node, by the variants' weights."""
    if not node.variants:
        return None
    weights = [max(v.weight, 0) for v in node.variants]
    if not sum(weights):
        weights = [1] * len(weights)
    point = bucket("variant", workspace_id, customer_id, flow_id, node.id) / 100 * sum(weights)
    for variant, weight in zip(node.variants, weights, strict=True):
        if point < weight:
            return variant.id
        point -= weight
    return node.variants[-1].id


# --- walking ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Who:
    """What the walk needs to pick variants: the same inputs as the arm."""

    workspace_id: int
    customer_id: str
    flow_id: int


@dataclass(frozen=True)
class Decision:
    outcome: str
    offer: dict | None  # the accepted offer's JSON plus node/variant, None for cancel/keep


def new_state(flow: Flow, who: Who, skip_offers: str | None) -> dict:
    state = {
        "step": None,
        "path": [],
        "variants": {},
        "offers_shown": [],
        "reason_code": None,
        "reason_label": None,
        "free_text": None,
        "skip_offers": skip_offers,
    }
    return _enter(flow, who, state, flow.start)


def _enter(flow: Flow, who: Who, state: dict, node_id: str | None) -> dict:
    """Move to ``node_id``, passing over offers when offers are skipped (holdout, cooldown) and
    recording the offer variant shown when landing on one."""
    state = {**state, "path": list(state["path"]), "variants": dict(state["variants"])}
    state["offers_shown"] = list(state["offers_shown"])
    for _ in range(_MAX_HOPS):
        node = flow.node(node_id)
        if node is None:
            node_id = flow.confirm_id
            node = flow.node(node_id)
            if node is None:
                break
        if node.type == "offer" and state["skip_offers"]:
            node_id = node.on_decline or flow.confirm_id
            continue
        state["step"] = node.id
        state["path"].append(node.id)
        if node.type == "offer":
            variant = choose_variant(who.workspace_id, who.customer_id, who.flow_id, node)
            state["variants"][node.id] = variant
            offer = offer_of(node, variant)
            if offer is not None:
                state["offers_shown"].append({"node": node.id, "variant": variant, "kind": offer.kind})
        return state
    state["step"] = None
    return state


def offer_of(node: Node, variant_id: str | None) -> Offer | None:
    for v in node.variants:
        if v.id == variant_id:
            return v.offer
    return node.variants[0].offer if node.variants else None


def current(flow: Flow, state: dict) -> Node | None:
    return flow.node(state.get("step"))


def step(flow: Flow, who: Who, state: dict, form: dict) -> tuple[dict, Decision | None]:
    """Answer one submitted form. A form for a step the customer has already left (a double
    click, the back button, a reload of a POST) changes nothing."""
    action = form.get("action")
    node = current(flow, state)
    if action not in ACTIONS:
        return state, None
    if node is not None and form.get("step") != node.id:
        return state, None
    if action == "keep":
        return state, Decision("saved_other", None)
    if action == "cancel":
        # "Cancel anyway" leads to the flow's Confirm step; cancelling there ends the flow.
        if node is None or node.type == "confirm" or flow.node(flow.confirm_id) is None:
            return state, Decision("canceled", None)
        return _enter(flow, who, state, flow.confirm_id), None
    if node is None:
        return state, None
    if action == "reason" and node.type == "survey":
        reason = next((r for r in node.reasons if r.code == form.get("reason")), None)
        if reason is None:
            return state, None
        text = (form.get("free_text") or "").strip()[:MAX_FREE_TEXT] if node.free_text.enabled else ""
        answered = {
            **state,
            "reason_code": reason.code,
            "reason_label": reason.label,
            "free_text": text or None,
        }
        return _enter(flow, who, answered, reason.next), None
    if action == "next" and node.type == "stories":
        return _enter(flow, who, state, node.next), None
    if action == "decline" and node.type == "offer":
        return _enter(flow, who, state, node.on_decline), None
    if action == "accept" and node.type == "offer":
        variant = state["variants"].get(node.id)
        offer = offer_of(node, variant)
        if offer is None:
            return state, None
        accepted = {**offer_to_json(offer), "node": node.id, "variant": variant}
        return state, Decision(OUTCOME_FOR_KIND.get(offer.kind, "saved_other"), accepted)
    return state, None


# --- what happens in Stripe ---------------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    kind: str  # discount | gift | pause | price_switch | trial_end | cancel
    params: dict


def add_months(ts: datetime, months: int) -> datetime:
    """The same day ``months`` later (the month's last day when it is shorter)."""
    import calendar

    month_index = ts.month - 1 + months
    year, month = ts.year + month_index // 12, month_index % 12 + 1
    day = min(ts.day, calendar.monthrange(year, month)[1])
    return ts.replace(year=year, month=month, day=day)


def plan_action(
    flow: Flow,
    decision: Decision,
    *,
    subscription_id: str | None,
    reason_code: str | None,
    free_text: str | None,
) -> Action | None:
    """The one Stripe change a decision makes, or None (keep, call: nothing to change)."""
    if subscription_id is None:
        return None
    if decision.outcome == "canceled":
        return Action(
            "cancel",
            {
                "subscription": subscription_id,
                "at": flow.settings.cancel_at,
                "feedback": STRIPE_FEEDBACK[reason_code] if reason_code else "other",
                "comment": (free_text or "")[:500] or None,
            },
        )
    offer = decision.offer
    if offer is None:
        return None
    kind = offer["kind"]
    base = {"subscription": subscription_id}
    if kind == "discount":
        return Action(
            "discount",
            {
                **base,
                **{k: offer.get(k) for k in ("percent_off", "amount_off", "currency", "duration_months")},
            },
        )
    if kind == "gift":
        return Action(
            "discount", {**base, "percent_off": 100, "duration_months": offer.get("months"), "gift": True}
        )
    if kind == "pause":
        return Action("pause", {**base, "months": offer.get("months")})
    if kind in ("downgrade", "annual_upsell"):
        return Action(
            "price_switch", {**base, "price": offer.get("price_id"), "proration": flow.settings.proration}
        )
    if kind == "trial_extension":
        return Action("trial_end", {**base, "days": offer.get("days")})
    return None  # call: the booking link is the whole offer


def describe(action: Action | None, decision: Decision) -> str:
    """One sentence for Simulate and the session page in the admin: exactly what Backstop does."""
    if action is None:
        if decision.offer and decision.offer.get("kind") == "call":
            return (
                "No change in Stripe: the session is recorded as saved and the customer is shown the "
                f"booking link ({decision.offer.get('booking_url') or 'not set yet'})."
            )
        if decision.outcome == "saved_other":
            return "No change in Stripe: the customer keeps the subscription as it is."
        return "No change in Stripe."
    p = action.params
    sub = p["subscription"]
    if action.kind == "discount":
        if p.get("amount_off"):
            off = f"{p['amount_off']} {str(p.get('currency') or '').upper()} minor units off"
        else:
            off = f"{p.get('percent_off')}% off"
        months = p.get("duration_months")
        length = "forever" if months == "forever" else f"for {months} month{'s' if months != 1 else ''}"
        return (
            f"Create a single-use coupon ({off}, {length}) for this session and add it to {sub} "
            "with discounts[][coupon]; discounts already on the subscription stay."
        )
    if action.kind == "pause":
        return (
            f"Pause collection on {sub} for {p['months']} month{'s' if p['months'] != 1 else ''}: "
            "pause_collection[behavior]=void with resumes_at set to that date."
        )
    if action.kind == "price_switch":
        return f"Switch the subscription item of {sub} to the price {p['price']} (proration_behavior={p['proration']})."
    if action.kind == "trial_end":
        return f"Move trial_end on {sub} {p['days']} days later (proration_behavior=none)."
    if action.kind == "cancel":
        when = (
            "at the end of the current period: cancel_at_period_end=true"
            if p["at"] == "period_end"
            else "immediately: DELETE /v1/subscriptions"
        )
        return f"Cancel {sub} {when}, with cancellation_details[feedback]={p['feedback']}."
    return "No change in Stripe."
