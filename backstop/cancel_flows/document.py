"""The cancel-flow document: a small JSON graph a founder can export, diff and import.

``parse`` turns JSON into frozen dataclasses and refuses only documents it cannot make sense of
(wrong shapes, unknown node types or offer kinds, duplicate ids). An *incomplete* flow — a call
offer with no booking URL yet, a reason not routed anywhere — still parses, so a draft can be
saved half-done; ``validate`` lists what must be fixed before it can be published. Nothing here
does I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

FORMAT = "backstop.cancel_flow/1"

NODE_TYPES = ("survey", "stories", "offer", "confirm")
OFFER_KINDS = ("discount", "pause", "downgrade", "gift", "call", "trial_extension", "annual_upsell")
CANCEL_AT = ("period_end", "immediately")
PRORATION = ("create_prorations", "none", "always_invoice")
MAX_VARIANTS = 4

OFFER_LABELS = {
    "discount": "Discount",
    "pause": "Pause",
    "downgrade": "Downgrade",
    "gift": "Free months",
    "call": "Schedule a call",
    "trial_extension": "Trial extension",
    "annual_upsell": "Annual upsell",
}
NODE_LABELS = {"survey": "Survey", "stories": "Stories", "offer": "Offer", "confirm": "Confirm"}


class _Feedback(dict):
    """Reason code → Stripe's ``cancellation_details.feedback``; unknown codes are ``other``."""

    def __missing__(self, key: str) -> str:
        return "other"


STRIPE_FEEDBACK: dict[str, str] = _Feedback(
    too_expensive="too_expensive",
    not_using="unused",
    switching="switched_service",
    missing_features="missing_features",
    bugs="low_quality",
    too_complex="too_complex",
    customer_service="customer_service",
    other="other",
)

_CODE_RE = re.compile(r"^[a-z0-9_]{1,40}$")
_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
_CURRENCY_RE = re.compile(r"^[a-z]{3}$")


class DocumentError(ValueError):
    """A document that cannot be read as a cancel flow; the message is one sentence."""


@dataclass(frozen=True)
class Offer:
    kind: str
    headline: str = ""
    body: str = ""
    accept_label: str = ""
    percent_off: int | None = None  # discount, annual_upsell (the saving shown)
    amount_off: int | None = None  # discount, minor units
    currency: str | None = None  # discount with amount_off
    duration_months: int | str | None = None  # discount: months ≥ 1 or "forever"
    months: int | None = None  # pause, gift
    price_id: str | None = None  # downgrade, annual_upsell
    booking_url: str | None = None  # call
    days: int | None = None  # trial_extension


@dataclass(frozen=True)
class Variant:
    id: str
    weight: int
    offer: Offer


@dataclass(frozen=True)
class Reason:
    code: str
    label: str
    next: str | None


@dataclass(frozen=True)
class Story:
    quote: str
    author: str
    role: str = ""


@dataclass(frozen=True)
class FreeText:
    enabled: bool = False
    label: str = ""


@dataclass(frozen=True)
class Node:
    id: str
    type: str
    title: str = ""
    body: str = ""
    reasons: tuple[Reason, ...] = ()
    free_text: FreeText = field(default_factory=FreeText)
    stories: tuple[Story, ...] = ()
    variants: tuple[Variant, ...] = ()
    next: str | None = None  # stories
    on_decline: str | None = None  # offer

    def targets(self) -> list[str]:
        """The node ids this node can lead to (unset links left out)."""
        if self.type == "survey":
            return [r.next for r in self.reasons if r.next]
        if self.type == "stories":
            return [self.next] if self.next else []
        if self.type == "offer":
            return [self.on_decline] if self.on_decline else []
        return []


@dataclass(frozen=True)
class FlowSettings:
    cancel_at: str = "period_end"
    proration: str = "create_prorations"


@dataclass(frozen=True)
class Flow:
    name: str
    start: str
    nodes: tuple[Node, ...]
    settings: FlowSettings = field(default_factory=FlowSettings)

    def node(self, node_id: str | None) -> Node | None:
        for n in self.nodes:
            if n.id == node_id:
                return n
        return None

    @property
    def confirm_id(self) -> str | None:
        """Where "Cancel anyway" leads: the flow's first Confirm node."""
        for n in self.nodes:
            if n.type == "confirm":
                return n.id
        return None


@dataclass(frozen=True)
class Problem:
    node_id: str | None
    field: str | None
    message: str


# --- parse -----------------------------------------------------------------------------------


def _str(data: dict, key: str, where: str, default: str = "") -> str:
    value = data.get(key, default)
    if value is None:
        return default
    if not isinstance(value, str):
        raise DocumentError(f"{where}: “{key}” must be text.")
    return value.strip()


def _opt_str(data: dict, key: str, where: str) -> str | None:
    value = _str(data, key, where)
    return value or None


def _opt_int(data: dict, key: str, where: str) -> int | None:
    value = data.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise DocumentError(f"{where}: “{key}” must be a whole number.")
    return value


def _dict(value: Any, where: str) -> dict:
    if not isinstance(value, dict):
        raise DocumentError(f"{where} must be an object.")
    return value


def _list(data: dict, key: str, where: str) -> list:
    value = data.get(key, [])
    if value is None:
        return []
    if not isinstance(value, list):
        raise DocumentError(f"{where}: “{key}” must be a list.")
    return value


def _parse_offer(data: Any, where: str) -> Offer:
    data = _dict(data, where)
    kind = _str(data, "kind", where)
    if kind not in OFFER_KINDS:
        raise DocumentError(f"{where}: offer kind “{kind}” is not one of {', '.join(OFFER_KINDS)}.")
    duration: int | str | None = data.get("duration_months")
    if duration == "forever":
        pass
    elif duration is not None and duration != "":
        duration = _opt_int(data, "duration_months", where)
    else:
        duration = None
    currency = _opt_str(data, "currency", where)
    return Offer(
        kind=kind,
        headline=_str(data, "headline", where),
        body=_str(data, "body", where),
        accept_label=_str(data, "accept_label", where),
        percent_off=_opt_int(data, "percent_off", where),
        amount_off=_opt_int(data, "amount_off", where),
        currency=currency.lower() if currency else None,
        duration_months=duration,
        months=_opt_int(data, "months", where),
        price_id=_opt_str(data, "price_id", where),
        booking_url=_opt_str(data, "booking_url", where),
        days=_opt_int(data, "days", where),
    )


def _parse_node(data: Any, index: int) -> Node:
    where = f"Node {index + 1}"
    data = _dict(data, where)
    node_id = _str(data, "id", where)
    if not _ID_RE.match(node_id):
        raise DocumentError(f"{where}: “id” must be 1–40 letters, digits, dashes or underscores.")
    where = f"Node “{node_id}”"
    node_type = _str(data, "type", where)
    if node_type not in NODE_TYPES:
        raise DocumentError(f"{where}: type “{node_type}” is not one of {', '.join(NODE_TYPES)}.")
    reasons = []
    for i, r in enumerate(_list(data, "reasons", where)):
        r = _dict(r, f"{where} reason {i + 1}")
        reasons.append(
            Reason(
                code=_str(r, "code", where), label=_str(r, "label", where), next=_opt_str(r, "next", where)
            )
        )
    free_raw = data.get("free_text") or {}
    free_raw = _dict(free_raw, f"{where} free_text")
    free_text = FreeText(enabled=bool(free_raw.get("enabled")), label=_str(free_raw, "label", where))
    stories = []
    for i, s in enumerate(_list(data, "stories", where)):
        s = _dict(s, f"{where} story {i + 1}")
        stories.append(
            Story(quote=_str(s, "quote", where), author=_str(s, "author", where), role=_str(s, "role", where))
        )
    variants = []
    for i, v in enumerate(_list(data, "variants", where)):
        vw = f"{where} variant {i + 1}"
        v = _dict(v, vw)
        weight = _opt_int(v, "weight", vw)
        variants.append(
            Variant(
                id=_str(v, "id", vw) or chr(ord("a") + i),
                weight=weight if weight is not None else 0,
                offer=_parse_offer(v.get("offer"), f"{vw} offer"),
            )
        )
    return Node(
        id=node_id,
        type=node_type,
        title=_str(data, "title", where),
        body=_str(data, "body", where),
        reasons=tuple(reasons),
        free_text=free_text,
        stories=tuple(stories),
        variants=tuple(variants),
        next=_opt_str(data, "next", where),
        on_decline=_opt_str(data, "on_decline", where),
    )


def parse(data: Any) -> Flow:
    """Read a flow document; raise ``DocumentError`` (one sentence) if it is not one."""
    data = _dict(data, "The flow document")
    fmt = data.get("format")
    if fmt != FORMAT:
        raise DocumentError(f"“format” must be “{FORMAT}” (this file says “{fmt}”).")
    settings_raw = _dict(data.get("settings") or {}, "“settings”")
    settings = FlowSettings(
        cancel_at=_str(settings_raw, "cancel_at", "Settings", "period_end") or "period_end",
        proration=_str(settings_raw, "proration", "Settings", "create_prorations") or "create_prorations",
    )
    nodes = tuple(_parse_node(n, i) for i, n in enumerate(_list(data, "nodes", "The flow")))
    seen: set[str] = set()
    for n in nodes:
        if n.id in seen:
            raise DocumentError(f"Two nodes share the id “{n.id}”; give each node its own id.")
        seen.add(n.id)
    return Flow(
        name=_str(data, "name", "The flow"),
        start=_str(data, "start", "The flow"),
        nodes=nodes,
        settings=settings,
    )


# --- to_json ---------------------------------------------------------------------------------

_OFFER_FIELDS = {
    "discount": ("percent_off", "amount_off", "currency", "duration_months"),
    "pause": ("months",),
    "downgrade": ("price_id",),
    "gift": ("months",),
    "call": ("booking_url",),
    "trial_extension": ("days",),
    "annual_upsell": ("price_id", "percent_off"),
}


def offer_to_json(offer: Offer) -> dict:
    out: dict[str, Any] = {"kind": offer.kind}
    for name in _OFFER_FIELDS[offer.kind]:
        value = getattr(offer, name)
        if value is not None:
            out[name] = value
    out.update(headline=offer.headline, body=offer.body, accept_label=offer.accept_label)
    return out


def node_to_json(node: Node) -> dict:
    out: dict[str, Any] = {"id": node.id, "type": node.type, "title": node.title, "body": node.body}
    if node.type == "survey":
        out["free_text"] = {"enabled": node.free_text.enabled, "label": node.free_text.label}
        out["reasons"] = [{"code": r.code, "label": r.label, "next": r.next} for r in node.reasons]
    elif node.type == "stories":
        out["stories"] = [{"quote": s.quote, "author": s.author, "role": s.role} for s in node.stories]
        out["next"] = node.next
    elif node.type == "offer":
        out["variants"] = [
            {"id": v.id, "weight": v.weight, "offer": offer_to_json(v.offer)} for v in node.variants
        ]
        out["on_decline"] = node.on_decline
    return out


def to_json(flow: Flow) -> dict:
    """The document as plain JSON data; ``parse(to_json(f)) == f``."""
    return {
        "format": FORMAT,
        "name": flow.name,
        "settings": {"cancel_at": flow.settings.cancel_at, "proration": flow.settings.proration},
        "start": flow.start,
        "nodes": [node_to_json(n) for n in flow.nodes],
    }


def offers(flow: Flow) -> list[Offer]:
    """Every offer in the flow, every variant, in document order."""
    return [v.offer for n in flow.nodes if n.type == "offer" for v in n.variants]


# --- validate --------------------------------------------------------------------------------


def _is_https_url(value: str | None) -> bool:
    if not value:
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme == "https" and bool(parts.hostname) and " " not in value


def _in_range(value: int | None, low: int, high: int) -> bool:
    return value is not None and low <= value <= high


def validate_offer(offer: Offer, node_id: str, prefix: str) -> list[Problem]:
    """What an offer still needs before customers can be shown it."""
    out: list[Problem] = []

    def add(name: str, message: str) -> None:
        out.append(Problem(node_id, f"{prefix}.{name}", message))

    if not offer.headline:
        add("headline", "Write a headline for this offer: it is the first thing the customer reads.")
    if not offer.accept_label:
        add("accept_label", "Write the accept button's label, e.g. “Keep my plan at 30% off”.")
    kind = offer.kind
    if kind == "discount":
        if offer.percent_off is not None and offer.amount_off is not None:
            add("amount_off", "Use either a percent off or an amount off, not both: clear one of them.")
        elif offer.percent_off is not None:
            if not _in_range(offer.percent_off, 1, 100):
                add("percent_off", "Set the percent off to a whole number from 1 to 100.")
        elif offer.amount_off is not None:
            if offer.amount_off < 1:
                add("amount_off", "Set the amount off to a positive amount in minor units (cents).")
            if not offer.currency or not _CURRENCY_RE.match(offer.currency):
                add("currency", "Give the amount off a three-letter currency, e.g. usd.")
        else:
            add("percent_off", "Set a percent off (1–100) or an amount off with its currency.")
        d = offer.duration_months
        if d != "forever" and not (isinstance(d, int) and d >= 1):
            add("duration_months", "Set how many months the discount lasts (1 or more) or choose forever.")
    elif kind in ("pause", "gift"):
        if not _in_range(offer.months, 1, 12):
            what = "pause" if kind == "pause" else "free months"
            add("months", f"Set the {what} length to a whole number of months from 1 to 12.")
    elif kind in ("downgrade", "annual_upsell"):
        if not offer.price_id or not offer.price_id.startswith("price_"):
            target = "the cheaper plan" if kind == "downgrade" else "the annual plan"
            add("price_id", f"Choose the Stripe price of {target} to switch the customer to.")
        if (
            kind == "annual_upsell"
            and offer.percent_off is not None
            and not _in_range(offer.percent_off, 1, 99)
        ):
            add("percent_off", "Set the saving shown to a percent from 1 to 99, or leave it empty.")
    elif kind == "call":
        if not _is_https_url(offer.booking_url):
            add("booking_url", "Paste your booking page's https:// link (Cal.com, Calendly, …).")
    elif kind == "trial_extension" and not _in_range(offer.days, 1, 90):
        add("days", "Set the trial extension to a whole number of days from 1 to 90.")
    return out


def _validate_node(flow: Flow, node: Node) -> list[Problem]:
    out: list[Problem] = []
    nid = node.id

    def link(name: str, target: str | None, what: str) -> None:
        if not target:
            out.append(Problem(nid, name, f"Choose the step {what} leads to."))
        elif flow.node(target) is None:
            out.append(
                Problem(
                    nid,
                    name,
                    f"{what[0].upper()}{what[1:]} leads to “{target}”, which doesn't exist: choose another step.",
                )
            )
        elif target == nid:
            out.append(
                Problem(
                    nid,
                    name,
                    f"{what[0].upper()}{what[1:]} leads back to this same step: choose another step.",
                )
            )

    if node.type == "survey":
        if not node.title:
            out.append(
                Problem(
                    nid,
                    "title",
                    "Write the survey's question, e.g. “What's the main reason you're leaving?”.",
                )
            )
        if not node.reasons:
            out.append(Problem(nid, "reasons", "Add at least one reason the customer can pick."))
        codes: set[str] = set()
        for i, r in enumerate(node.reasons):
            if not _CODE_RE.match(r.code):
                out.append(
                    Problem(
                        nid,
                        f"reasons[{i}].code",
                        f"Give reason {i + 1} a code of lowercase letters, digits and underscores, e.g. too_expensive.",
                    )
                )
            elif r.code in codes:
                out.append(
                    Problem(
                        nid,
                        f"reasons[{i}].code",
                        f"Reason code “{r.code}” is used twice: give each reason its own code.",
                    )
                )
            codes.add(r.code)
            if not r.label:
                out.append(
                    Problem(
                        nid, f"reasons[{i}].label", f"Write the label the customer sees for reason {i + 1}."
                    )
                )
            link(f"reasons[{i}].next", r.next, f"reason “{r.label or r.code or i + 1}”")
        if node.free_text.enabled and not node.free_text.label:
            out.append(
                Problem(nid, "free_text.label", "Write the free-text box's prompt, or turn the box off.")
            )
    elif node.type == "stories":
        if not node.stories:
            out.append(Problem(nid, "stories", "Add at least one story: a real customer's words and name."))
        for i, s in enumerate(node.stories):
            if not s.quote:
                out.append(
                    Problem(
                        nid,
                        f"stories[{i}].quote",
                        f"Write story {i + 1}'s quote in the customer's own words.",
                    )
                )
            if not s.author:
                out.append(
                    Problem(
                        nid, f"stories[{i}].author", f"Name who said story {i + 1} (a first name is fine)."
                    )
                )
        link("next", node.next, "this stories step")
    elif node.type == "offer":
        if not 1 <= len(node.variants) <= MAX_VARIANTS:
            out.append(
                Problem(
                    nid,
                    "variants",
                    f"Give this offer 1 to {MAX_VARIANTS} variants (it has {len(node.variants)}).",
                )
            )
        ids: set[str] = set()
        for i, v in enumerate(node.variants):
            if not _ID_RE.match(v.id) or v.id in ids:
                out.append(
                    Problem(
                        nid,
                        f"variants[{i}].id",
                        f"Give variant {i + 1} its own short id, e.g. “{chr(ord('a') + i)}”.",
                    )
                )
            ids.add(v.id)
            if v.weight < 1:
                out.append(
                    Problem(
                        nid, f"variants[{i}].weight", f"Give variant {v.id} a traffic weight of 1 or more."
                    )
                )
            out.extend(validate_offer(v.offer, nid, f"variants[{i}].offer"))
        link("on_decline", node.on_decline, "declining this offer")
    elif node.type == "confirm" and not node.title:
        out.append(Problem(nid, "title", "Write the confirmation's title, e.g. “We're sorry to see you go”."))
    return out


def _cycle_problems(flow: Flow) -> list[Problem]:
    """One problem per edge that closes a loop (depth-first search from every node)."""
    out: list[Problem] = []
    state: dict[str, int] = {}  # 1 = on the current path, 2 = finished

    def visit(node: Node) -> None:
        state[node.id] = 1
        for target in node.targets():
            nxt = flow.node(target)
            if nxt is None or target == node.id:
                continue
            if state.get(target) == 1:
                out.append(
                    Problem(
                        node.id,
                        None,
                        f"This step leads back to “{target}”, making a loop: point it at a later step or a Confirm.",
                    )
                )
            elif target not in state:
                visit(nxt)
        state[node.id] = 2

    for n in flow.nodes:
        if n.id not in state:
            visit(n)
    return out


def reachable(flow: Flow) -> set[str]:
    seen: set[str] = set()
    stack = [flow.start] if flow.node(flow.start) else []
    while stack:
        nid = stack.pop()
        if nid in seen:
            continue
        seen.add(nid)
        node = flow.node(nid)
        if node:
            stack.extend(t for t in node.targets() if flow.node(t))
    return seen


def validate(flow: Flow) -> list[Problem]:
    """Everything that stops this flow from being published, each fix in one sentence.

    Routing every link to an existing node and forbidding loops is what makes every path end:
    Confirm is the only node with no way forward, and accepting an offer ends the flow as a save.
    """
    out: list[Problem] = []
    if not flow.name:
        out.append(Problem(None, "name", "Give the flow a name."))
    if flow.settings.cancel_at not in CANCEL_AT:
        out.append(
            Problem(
                None,
                "settings.cancel_at",
                "Choose when a cancellation takes effect: at period end or immediately.",
            )
        )
    if flow.settings.proration not in PRORATION:
        out.append(
            Problem(
                None,
                "settings.proration",
                "Choose how plan switches are prorated: create_prorations, none or always_invoice.",
            )
        )
    if not flow.nodes:
        out.append(Problem(None, "nodes", "Add a survey and a Confirm step: a flow needs at least those."))
        return out
    if flow.node(flow.start) is None:
        out.append(Problem(None, "start", "Choose the step the flow starts with."))
    if flow.confirm_id is None:
        out.append(
            Problem(
                None, "nodes", "Add a Confirm step: “Cancel anyway” and every path must be able to end there."
            )
        )
    for node in flow.nodes:
        out.extend(_validate_node(flow, node))
    out.extend(_cycle_problems(flow))
    if flow.node(flow.start) is not None:
        seen = reachable(flow) | {flow.confirm_id}  # "Cancel anyway" always reaches Confirm
        for node in flow.nodes:
            if node.id not in seen:
                out.append(
                    Problem(
                        node.id,
                        None,
                        "No step leads here, so customers never see it: route a reason or a decline to it, or delete it.",
                    )
                )
    return out


MAX_DOCUMENT_BYTES = 256 * 1024


def loads(raw: bytes | str) -> Flow:
    """Read an exported flow file; ``DocumentError`` says what is wrong in one sentence."""
    import json

    if len(raw) > MAX_DOCUMENT_BYTES:
        raise DocumentError(
            "The file is larger than 256 KB, which no flow needs; check it is an exported flow."
        )
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise DocumentError("The file isn't UTF-8 text; export the flow from Backstop again.")
    if not raw.strip():
        raise DocumentError("The file is empty; choose a flow exported from Backstop.")
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise DocumentError(f"The file isn't valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}.")
    return parse(data)
