"""Builder edits as pure functions on a Flow: apply a submitted node form, add and delete nodes,
change the flow's settings. Nothing here is stored; the caller saves the draft it returns.

Forms name repeated rows by index (``reason-0-label``, ``variant-1-percent_off``); a row whose
fields are all empty is ignored, so the form can always offer one blank row to add another.
Numbers that aren't numbers become empty, and the validator then says what to enter.
"""

from __future__ import annotations

import re
from dataclasses import replace

from backstop.cancel_flows.document import (
    MAX_VARIANTS,
    NODE_TYPES,
    OFFER_KINDS,
    Flow,
    FlowSettings,
    FreeText,
    Node,
    Offer,
    Reason,
    Story,
    Variant,
)

OPS = ("add_reason", "add_story", "add_variant")


def _int(value: str | None) -> int | None:
    value = (value or "").strip()
    if re.fullmatch(r"-?\d{1,9}", value):
        return int(value)
    return None


def _text(form: dict, key: str, limit: int = 2000) -> str:
    return (form.get(key) or "").strip()[:limit]


def code_from_label(label: str) -> str:
    code = re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")
    return code[:40] or "reason"


def _rows(form: dict, prefix: str) -> list[int]:
    seen = set()
    for key in form:
        m = re.fullmatch(rf"{prefix}-(\d{{1,2}})-[a-z_]+", key)
        if m:
            seen.add(int(m.group(1)))
    return sorted(seen)


def _offer_from_form(form: dict, p: str) -> Offer:
    kind = form.get(f"{p}-kind") or "discount"
    if kind not in OFFER_KINDS:
        kind = "discount"
    duration: int | str | None = (
        "forever" if form.get(f"{p}-forever") else _int(form.get(f"{p}-duration_months"))
    )
    currency = _text(form, f"{p}-currency", 3).lower() or None
    return Offer(
        kind=kind,
        headline=_text(form, f"{p}-headline", 200),
        body=_text(form, f"{p}-body"),
        accept_label=_text(form, f"{p}-accept_label", 80),
        percent_off=_int(form.get(f"{p}-percent_off")) if kind in ("discount", "annual_upsell") else None,
        amount_off=_int(form.get(f"{p}-amount_off")) if kind == "discount" else None,
        currency=currency if kind == "discount" else None,
        duration_months=duration if kind == "discount" else None,
        months=_int(form.get(f"{p}-months")) if kind in ("pause", "gift") else None,
        price_id=(_text(form, f"{p}-price_id", 255) or None)
        if kind in ("downgrade", "annual_upsell")
        else None,
        booking_url=(_text(form, f"{p}-booking_url", 500) or None) if kind == "call" else None,
        days=_int(form.get(f"{p}-days")) if kind == "trial_extension" else None,
    )


def _link(form: dict, key: str) -> str | None:
    return _text(form, key, 40) or None


def apply_node_form(flow: Flow, node_id: str, form: dict) -> Flow:
    """The flow with one node replaced by what its side-panel form says."""
    node = flow.node(node_id)
    if node is None:
        raise KeyError(node_id)
    op = form.get("op", "")
    changes: dict = {"title": _text(form, "title", 200), "body": _text(form, "body")}
    if node.type == "survey":
        reasons = []
        for i in _rows(form, "reason"):
            p = f"reason-{i}"
            label, code, nxt = (
                _text(form, f"{p}-label", 120),
                _text(form, f"{p}-code", 40),
                _link(form, f"{p}-next"),
            )
            if form.get(f"{p}-delete") or not (label or code or nxt):
                continue
            reasons.append(Reason(code=code or code_from_label(label), label=label, next=nxt))
        if op == "add_reason":
            reasons.append(Reason(code="", label="", next=None))
        changes["reasons"] = tuple(reasons)
        changes["free_text"] = FreeText(
            enabled=bool(form.get("free_text_enabled")), label=_text(form, "free_text_label", 200)
        )
    elif node.type == "stories":
        stories = []
        for i in _rows(form, "story"):
            p = f"story-{i}"
            quote, author, role = (
                _text(form, f"{p}-quote"),
                _text(form, f"{p}-author", 120),
                _text(form, f"{p}-role", 120),
            )
            if form.get(f"{p}-delete") or not (quote or author or role):
                continue
            stories.append(Story(quote=quote, author=author, role=role))
        if op == "add_story":
            stories.append(Story(quote="", author=""))
        changes["stories"] = tuple(stories)
        changes["next"] = _link(form, "next")
    elif node.type == "offer":
        variants = []
        for i in _rows(form, "variant"):
            p = f"variant-{i}"
            if form.get(f"{p}-delete"):
                continue
            weight = _int(form.get(f"{p}-weight"))
            variants.append(
                Variant(
                    id=_text(form, f"{p}-id", 40) or chr(ord("a") + len(variants)),
                    weight=weight if weight is not None else 0,
                    offer=_offer_from_form(form, p),
                )
            )
        if op == "add_variant" and len(variants) < MAX_VARIANTS:
            used = {v.id for v in variants}
            new_id = next(c for c in "abcdefgh" if c not in used)
            base = variants[-1].offer if variants else Offer(kind="discount")
            variants.append(Variant(id=new_id, weight=variants[-1].weight if variants else 50, offer=base))
        changes["variants"] = tuple(variants)
        changes["on_decline"] = _link(form, "on_decline")
    return _replace_node(flow, replace(node, **changes))


def _replace_node(flow: Flow, new: Node) -> Flow:
    return replace(flow, nodes=tuple(new if n.id == new.id else n for n in flow.nodes))


def new_node_id(flow: Flow, node_type: str) -> str:
    n = 1
    while flow.node(f"{node_type}_{n}") is not None:
        n += 1
    return f"{node_type}_{n}"


def add_node(flow: Flow, node_type: str) -> tuple[Flow, str]:
    if node_type not in NODE_TYPES:
        raise ValueError(f"Unknown step type “{node_type}”.")
    node_id = new_node_id(flow, node_type)
    node = Node(id=node_id, type=node_type)
    if node_type == "offer":
        node = replace(node, variants=(Variant("a", 100, Offer(kind="discount")),))
    elif node_type == "stories":
        node = replace(node, stories=(Story(quote="", author=""),))
    elif node_type == "survey":
        node = replace(node, reasons=(Reason("", "", None),))
    elif node_type == "confirm":
        node = replace(node, title="We're sorry to see you go")
    start = flow.start if flow.node(flow.start) else node_id
    return replace(flow, nodes=(*flow.nodes, node), start=start), node_id


def delete_node(flow: Flow, node_id: str) -> Flow:
    """Remove a node; links that pointed at it become unset, for the validator to flag."""
    nodes = []
    for n in flow.nodes:
        if n.id == node_id:
            continue
        if n.type == "survey":
            n = replace(
                n, reasons=tuple(replace(r, next=None) if r.next == node_id else r for r in n.reasons)
            )
        elif n.next == node_id:
            n = replace(n, next=None)
        elif n.on_decline == node_id:
            n = replace(n, on_decline=None)
        nodes.append(n)
    start = flow.start if flow.start != node_id else (nodes[0].id if nodes else "")
    return replace(flow, nodes=tuple(nodes), start=start)


def apply_settings_form(flow: Flow, form: dict) -> Flow:
    start = _text(form, "start", 40)
    return replace(
        flow,
        name=_text(form, "name", 120) or flow.name,
        start=start if flow.node(start) else flow.start,
        settings=FlowSettings(
            cancel_at=form.get("cancel_at") or flow.settings.cancel_at,
            proration=form.get("proration") or flow.settings.proration,
        ),
    )
