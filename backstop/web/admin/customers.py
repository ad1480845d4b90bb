"""Customers: the mirrored Stripe customers, searchable, and one customer in full."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlencode

from litestar import Request, get
from litestar.params import FromPath, FromQuery
from litestar.response import Template

from backstop import clock
from backstop.stripe_sync import backfill, connection, customers
from backstop.web.admin.common import render
from backstop.web.api.errors import ApiError
from backstop.web.api.pagination import decode_key_cursor, encode_key_cursor
from backstop.web.deps import DB, CurrentSession, CurrentWorkspace
from backstop.workspaces.errors import NotFound

PAGE_SIZE = 25
MAX_QUERY = 200

STATUS_LABELS = {
    "active": ("Active", "green"),
    "trialing": ("Trialing", "neutral"),
    "past_due": ("Past due", "amber"),
    "unpaid": ("Unpaid", "red"),
    "incomplete": ("Incomplete", "amber"),
    "incomplete_expired": ("Incomplete, expired", "muted"),
    "paused": ("Paused", "neutral"),
    "canceled": ("Canceled", "muted"),
}
INVOICE_LABELS = {
    "draft": ("Draft", "muted"),
    "open": ("Open", "amber"),
    "paid": ("Paid", "green"),
    "uncollectible": ("Uncollectible", "red"),
    "void": ("Void", "muted"),
}


def iso(ts: int | None) -> str | None:
    """Stripe's Unix seconds as the ISO text the reltime/exact filters read."""
    return clock.iso(datetime.fromtimestamp(ts, UTC)) if ts else None


def status_pill(status: str | None, labels: dict = STATUS_LABELS) -> tuple[str, str]:
    if not status:
        return ("—", "muted")
    return labels.get(status, (status.replace("_", " ").capitalize(), "muted"))


def price_text(sub: customers.Subscription) -> str:
    """'per month', 'every 3 months': the interval a plan's price is charged at."""
    if not sub.interval:
        return ""
    count = sub.interval_count or 1
    return f"per {sub.interval}" if count == 1 else f"every {count} {sub.interval}s"


def dashboard_url(conn: connection.Connection | None, customer_id: str) -> str | None:
    if conn is None:
        return None
    mode = "" if conn.livemode else "test/"
    return f"https://dashboard.stripe.com/{mode}customers/{customer_id}"


def _helpers() -> dict:
    return {"iso": iso, "status_pill": status_pill, "invoice_pill": _invoice_pill, "price_text": price_text}


def _invoice_pill(status: str | None) -> tuple[str, str]:
    return status_pill(status, INVOICE_LABELS)


@get("/w/{slug:str}/customers", sync_to_thread=True)
def customers_page(
    request: Request,
    slug: FromPath[str],
    db: DB,
    session: CurrentSession,
    workspace: CurrentWorkspace,
    q: FromQuery[str | None] = None,
    cursor: FromQuery[str | None] = None,
) -> Template:
    query = (q or "").strip()[:MAX_QUERY]
    try:
        after = decode_key_cursor(cursor)
    except ApiError:
        after = None  # a mangled link starts over at the newest customers
    page = customers.list_customers(db, workspace.id, query=query or None, limit=PAGE_SIZE, after=after)
    next_url = None
    if page.next_key is not None:
        params = {"q": query} if query else {}
        next_url = "?" + urlencode({**params, "cursor": encode_key_cursor(page.next_key)})
    progress = backfill.progress(db, workspace.id)
    now = clock.now()
    return render(
        request,
        "admin/customers.html",
        db=db,
        session=session,
        workspace=workspace,
        nav="customers",
        conn=connection.get(db, workspace.id),
        progress=progress,
        syncing=progress is not None and not progress.finished_at,
        rows=[(c, c.card_warning(now)) for c in page.customers],
        query=query,
        paged=after is not None,
        next_url=next_url,
        first_url="?" + urlencode({"q": query}) if query else "?",
        total=customers.count_customers(db, workspace.id),
        **_helpers(),
    )


@get("/w/{slug:str}/customers/{customer_id:str}", sync_to_thread=True)
def customer_page(
    request: Request,
    slug: FromPath[str],
    customer_id: FromPath[str],
    db: DB,
    session: CurrentSession,
    workspace: CurrentWorkspace,
    invoice: FromQuery[str | None] = None,
) -> Template:
    customer = customers.get_customer(db, workspace.id, customer_id)
    if customer is None:
        raise NotFound(customer_id)
    conn = connection.get(db, workspace.id)
    lines = customers.invoice_lines(db, workspace.id, customer.id, invoice) if invoice else None
    return render(
        request,
        "admin/customers_detail.html",
        db=db,
        session=session,
        workspace=workspace,
        nav="customers",
        customer=customer,
        warning=customer.card_warning(),
        invoices=customers.invoices(db, workspace.id, customer.id),
        open_invoice=invoice if lines is not None else None,
        lines=lines or [],
        campaigns=customers.recent_campaigns(db, workspace.id, customer.id),
        dashboard_url=dashboard_url(conn, customer.id),
        **_helpers(),
    )


handlers = [customers_page, customer_page]
