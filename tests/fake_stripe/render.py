"""Turning stored objects into answers: deep copies, invoice line trimming, `expand[]`, and lists.

Expansion follows Stripe's rules as far as Backstop needs them: a dotted path walks objects,
`data` walks a list, an id at the end of a path becomes the object (a deleted one becomes its
`{"id", "object", "deleted": true}` stub), and a field that is not an expandable id is a 400
("This property cannot be expanded"). Includable fields such as `invoice.payments` appear only
when expanded.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from . import errors
from .encoding import as_int
from .shapes import deleted, lst

if TYPE_CHECKING:
    from .state import Store

MAX_EMBEDDED_LINES = 10

EXPANDABLE_FIELDS = {
    "account",
    "application",
    "balance_transaction",
    "charge",
    "coupon",
    "customer",
    "default_payment_method",
    "default_price",
    "default_source",
    "discounts",
    "invoice",
    "latest_attempt",
    "latest_charge",
    "latest_invoice",
    "latest_revision",
    "mandate",
    "on_behalf_of",
    "payment_intent",
    "payment_method",
    "pending_setup_intent",
    "price",
    "product",
    "review",
    "schedule",
    "setup_intent",
    "subscription",
    "test_clock",
}


def _invoice_payments(store: Store, inv: dict[str, Any]) -> dict[str, Any]:
    payments = [p for p in store.all("invoice_payment") if p["invoice"] == inv["id"]]
    return lst(f"/v1/invoice_payments?invoice={inv['id']}", [copy.deepcopy(p) for p in payments])


def _customer_subscriptions(store: Store, cus: dict[str, Any]) -> dict[str, Any]:
    subs = [
        render(store, s)
        for s in store.all("subscription")
        if s["customer"] == cus["id"] and s["status"] not in ("canceled", "incomplete_expired")
    ]
    return lst(f"/v1/customers/{cus['id']}/subscriptions", subs)


INCLUDABLE: dict[tuple[str, str], Callable[[Store, dict[str, Any]], dict[str, Any]]] = {
    ("invoice", "payments"): _invoice_payments,
    ("customer", "subscriptions"): _customer_subscriptions,
}


def render(store: Store, obj: dict[str, Any], expand: Iterable[str] = ()) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    if out.get("object") == "invoice":
        lines = out["lines"]
        lines["has_more"] = len(lines["data"]) > MAX_EMBEDDED_LINES
        lines["data"] = lines["data"][:MAX_EMBEDDED_LINES]
    for path in expand:
        _walk(store, out, path.split("."), path)
    return out


def _cannot(path: str) -> errors.StripeError:
    return errors.invalid_request(f"This property cannot be expanded ({path}).", param="expand")


def _resolve(store: Store, value: str) -> dict[str, Any] | None:
    target = store.find(value)
    if target is not None:
        return render(store, target)
    if value in store.deleted:
        return deleted(store.deleted[value], value)
    return None


def _walk(store: Store, node: Any, segments: list[str], path: str) -> Any:
    if not segments:
        return node
    if isinstance(node, list):
        return [_walk(store, item, segments, path) for item in node]
    if not isinstance(node, dict):
        raise _cannot(path)
    head, rest = segments[0], segments[1:]
    if node.get("object") == "list" and head == "data":
        node["data"] = [_walk(store, item, rest, path) for item in node["data"]]
        return node
    if head not in node:
        include = INCLUDABLE.get((node.get("object", ""), head))
        if include is None:
            raise _cannot(path)
        node[head] = include(store, node)
    node[head] = _expand_value(store, node[head], head, rest, path)
    return node


def _expand_value(store: Store, value: Any, field: str, rest: list[str], path: str) -> Any:
    if value is None:
        return None
    if isinstance(value, list):
        return [_expand_value(store, item, field, rest, path) for item in value]
    if isinstance(value, str):
        if field not in EXPANDABLE_FIELDS:
            raise _cannot(path)
        resolved = _resolve(store, value)
        if resolved is None:
            return value
        value = resolved
    if isinstance(value, dict):
        if not rest and "id" not in value and value.get("object") != "list":
            raise _cannot(path)
        return _walk(store, value, rest, path)
    raise _cannot(path)


def list_response(
    store: Store,
    objects: Iterable[dict[str, Any]],
    params: dict[str, Any],
    url: str,
    expand: list[str],
) -> dict[str, Any]:
    """Stripe's list envelope over `objects` (already newest first and filtered)."""
    limit = as_int(params.get("limit", 10), "limit")
    if limit < 1 or limit > 100:
        bound = "greater than or equal to 1" if limit < 1 else "less than or equal to 100"
        raise errors.invalid_request(f"This value must be {bound}.", param="limit")
    for path in expand:
        if not path.startswith("data."):
            raise _cannot(path)
    item_expand = [p[len("data.") :] for p in expand]
    rows = list(objects)
    after, before = params.get("starting_after"), params.get("ending_before")
    if after and before:
        raise errors.invalid_request(
            "You may only specify one of these parameters: ending_before, starting_after.",
            param="ending_before",
        )
    if after:
        index = _position(rows, after, "starting_after", store)
        window = rows[index + 1 : index + 1 + limit]
        has_more = index + 1 + limit < len(rows)
    elif before:
        index = _position(rows, before, "ending_before", store)
        start = max(0, index - limit)
        window = rows[start:index]
        has_more = start > 0
    else:
        window = rows[:limit]
        has_more = len(rows) > limit
    return lst(url, [render(store, o, item_expand) for o in window], has_more)


def _position(rows: list[dict[str, Any]], object_id: str, param: str, store: Store) -> int:
    for index, row in enumerate(rows):
        if row["id"] == object_id:
            return index
    obj = store.find(object_id)
    kind = obj["object"] if obj else "object"
    raise errors.no_such(kind, object_id, param)


def created_filter(params: dict[str, Any], name: str = "created") -> Callable[[dict[str, Any]], bool]:
    spec = params.get(name)
    if spec in (None, ""):
        return lambda obj: True
    if not isinstance(spec, dict):
        exact = as_int(spec, name)
        return lambda obj: obj.get(name) == exact
    bounds = {}
    for op, value in spec.items():
        if op not in ("gt", "gte", "lt", "lte"):
            raise errors.unknown_param(f"{name}[{op}]")
        bounds[op] = as_int(value, f"{name}[{op}]")

    def keep(obj: dict[str, Any]) -> bool:
        ts = obj.get(name) or 0
        return (
            ("gt" not in bounds or ts > bounds["gt"])
            and ("gte" not in bounds or ts >= bounds["gte"])
            and ("lt" not in bounds or ts < bounds["lt"])
            and ("lte" not in bounds or ts <= bounds["lte"])
        )

    return keep
