"""Writing Stripe objects into the mirror tables, whatever order they arrive in.

Every mirror row remembers the ``version`` (Stripe's event ``created``, or the time we fetched
the object) it was written from. A write with an older version is skipped: a newer state is
already there. Two different states with the same version — events from the same second, whose
order Stripe does not tell us — are settled by fetching the object from Stripe, the only truth.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlite_utils import Database

from backstop import clock
from backstop.stripe_sync import objects

Refetch = Callable[[], dict | None]

# object type -> (table, row builder)
TABLES: dict[str, tuple[str, Callable[[dict], dict]]] = {
    "customer": ("stripe_customers", objects.customer_row),
    "payment_method": ("stripe_payment_methods", objects.payment_method_row),
    "product": ("stripe_products", objects.product_row),
    "price": ("stripe_prices", objects.price_row),
    "plan": ("stripe_prices", objects.price_row),
    "subscription": ("stripe_subscriptions", objects.subscription_row),
    "invoice": ("stripe_invoices", objects.invoice_row),
}

# Expanded objects inside a parent are mirrored too (a customer's default card, a price's product).
_NESTED = {
    "customer": [("invoice_settings", "default_payment_method")],
    "subscription": [("default_payment_method",), ("customer",)],
    "price": [("product",)],
}


def _write(db: Database, table: str, workspace_id: int, row: dict, version: int) -> None:
    data = {**row, "workspace_id": workspace_id, "version": version, "synced_at": clock.iso()}
    columns = list(data)
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in ("workspace_id", "id"))
    db.execute(
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)}) "  # noqa: S608
        f"ON CONFLICT (workspace_id, id) DO UPDATE SET {updates}",
        [data[c] for c in columns],
    )


def _stored(db: Database, table: str, workspace_id: int, object_id: str) -> dict | None:
    row = db.execute(
        f"SELECT * FROM {table} WHERE workspace_id = ? AND id = ?",  # noqa: S608
        [workspace_id, object_id],
    ).fetchone()
    return dict(row) if row else None


def _same(stored: dict, row: dict) -> bool:
    return all(stored.get(k) == v for k, v in row.items())


def apply_object(
    db: Database, workspace_id: int, obj: dict, version: int, refetch: Refetch | None = None
) -> str:
    """Upsert one Stripe object; return 'written', 'unchanged', 'stale' or 'ignored'."""
    kind = obj.get("object")
    if kind not in TABLES or not obj.get("id"):
        return "ignored"
    table, build = TABLES[kind]
    row = build(obj)
    stored = _stored(db, table, workspace_id, row["id"])
    if stored is not None:
        if version < stored["version"]:
            return "stale"
        if version == stored["version"]:
            if _same(stored, row):
                return "unchanged"
            fresh = refetch() if refetch else None
            if fresh is not None:
                obj, row, version = fresh, build(fresh), max(version, int(clock.now_ts()))
    _write(db, table, workspace_id, row, version)
    if kind == "invoice":
        _write_lines(db, workspace_id, obj)
    if kind == "subscription":
        # Each item carries its full price: mirror it so a plan added after the sync has a name.
        for item in (obj.get("items") or {}).get("data") or []:
            price = item.get("price") if isinstance(item, dict) else None
            if isinstance(price, dict) and price.get("object") == "price":
                apply_object(db, workspace_id, price, version)
    for path in _NESTED.get(kind, []):
        nested = obj
        for key in path:
            nested = nested.get(key) if isinstance(nested, dict) else None
        if isinstance(nested, dict) and nested.get("object") in TABLES:
            apply_object(db, workspace_id, nested, version)
    return "written"


def _write_lines(db: Database, workspace_id: int, invoice: dict) -> None:
    lines = (invoice.get("lines") or {}).get("data")
    if lines is None:
        return
    db.execute(
        "DELETE FROM stripe_invoice_lines WHERE workspace_id = ? AND invoice_id = ?",
        [workspace_id, invoice["id"]],
    )
    for line in objects.invoice_line_rows(invoice["id"], lines):
        columns = ["workspace_id", *line]
        db.execute(
            f"INSERT OR REPLACE INTO stripe_invoice_lines ({', '.join(columns)}) "  # noqa: S608
            f"VALUES ({', '.join('?' for _ in columns)})",
            [workspace_id, *line.values()],
        )


def mark_deleted(db: Database, workspace_id: int, kind: str, object_id: str, version: int) -> None:
    """Deletions are a state too: keep the row (history points at it), flag it."""
    table, _ = TABLES[kind]
    db.execute(
        f"UPDATE {table} SET deleted = 1, version = MAX(version, ?), synced_at = ? "  # noqa: S608
        "WHERE workspace_id = ? AND id = ?",
        [version, clock.iso(), workspace_id, object_id],
    )


def purge(db: Database, workspace_id: int) -> None:
    """Forget the mirrored account (on disconnect: a reconnect may be another account or mode)."""
    for table in {t for t, _ in TABLES.values()} | {"stripe_invoice_lines"}:
        db.execute(f"DELETE FROM {table} WHERE workspace_id = ?", [workspace_id])  # noqa: S608


def complete_invoice_lines(fetch: Callable[..., dict], invoice: dict) -> dict:
    """Invoice payloads and lists carry the first page of lines only; fetch the rest, so no line
    of a long invoice is missing from the mirror."""
    lines = invoice.get("lines") or {}
    if not lines.get("has_more") or not lines.get("data"):
        return invoice
    data = list(lines["data"])
    while True:
        page = fetch(f"/v1/invoices/{invoice['id']}/lines", {"limit": 100, "starting_after": data[-1]["id"]})
        data.extend(page.get("data") or [])
        if not page.get("has_more") or not page.get("data"):
            break
    return {**invoice, "lines": {**lines, "data": data, "has_more": False}}
