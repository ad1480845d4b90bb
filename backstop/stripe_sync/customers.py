"""Reading the mirrored Stripe customers: search, lists newest first, one customer in full.

Queries only; every one names the workspace. The mirror is written by ``mirror.apply_object``.

Active MRR counts subscriptions that are ``active`` or ``past_due`` (a failed renewal is still
revenue until recovery gives up), unless their collection is paused. Trials have not paid yet,
and ``unpaid``/``paused``/``canceled``/``incomplete`` ones are not paying, so they don't count.
A subscription set to cancel at the period's end still counts until it ends.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlite_utils import Database

from backstop import clock
from backstop.db import all_rows, one
from backstop.stripe_sync.lookups import plan_name_of

MRR_STATUSES = ("active", "past_due")
# Subscriptions that will renew (and charge a card) unless something changes.
RENEWING_STATUSES = ("active", "past_due", "trialing")
# The order a customer's subscriptions are shown in: the one that matters now first.
_STATUS_RANK = {"active": 0, "past_due": 1, "trialing": 2, "unpaid": 3, "paused": 4, "incomplete": 5}
TAGS_KEY = "backstop_tags"
_FALSY = {"", "0", "false", "no", "off", "none", "null"}
RECENT_INVOICES = 24
RECENT_CAMPAIGNS = 10

_MRR_WHERE = "status IN ('active', 'past_due') AND pause_collection IS NULL AND currency IS NOT NULL"


# --- plain rules, no I/O -------------------------------------------------------------------


def fold(value: str | None) -> str:
    """Case-folded text for matching: 'ÉLODIE' and 'élodie' are the same person."""
    return (value or "").casefold()


def parse_metadata(raw: str | None) -> dict[str, str]:
    try:
        value = json.loads(raw) if raw else {}
    except (TypeError, ValueError):
        return {}
    return {str(k): "" if v is None else str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def tags_of(metadata: dict[str, str]) -> list[str]:
    """The customer's tags as written in the ``backstop_tags`` metadata key (comma-separated)."""
    return [t.strip() for t in metadata.get(TAGS_KEY, "").split(",") if t.strip()]


def has_tag(metadata: dict[str, str], tag: str) -> bool:
    """A customer has a tag when ``backstop_tags`` lists it, or when a metadata key of that name
    holds a truthy value (anything but empty, 0, false, no, off, none, null). Case-insensitive."""
    wanted = fold(tag.strip())
    if not wanted:
        return False
    if any(fold(t) == wanted for t in tags_of(metadata)):
        return True
    return any(fold(k) == wanted and fold(v.strip()) not in _FALSY for k, v in metadata.items())


def _sql_has_tag(metadata: str | None, tag: str) -> int:
    return int(has_tag(parse_metadata(metadata), tag))


def _sql_matches(needle: str, email: str | None, name: str | None, customer_id: str | None) -> int:
    return int(any(needle in fold(v) for v in (email, name, customer_id)))


def _register(db: Database) -> None:
    db.register_function(_sql_has_tag, deterministic=True, name="backstop_has_tag")
    db.register_function(_sql_matches, deterministic=True, name="backstop_customer_matches")


def ts_to_datetime(value: int | None) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if value else None


@dataclass(frozen=True)
class Card:
    id: str
    brand: str | None
    last4: str | None
    exp_month: int | None
    exp_year: int | None

    @property
    def expires_at(self) -> datetime | None:
        """A card works through the last day of its expiry month."""
        if not self.exp_month or not self.exp_year or not 1 <= self.exp_month <= 12:
            return None
        if self.exp_month == 12:
            return datetime(self.exp_year + 1, 1, 1, tzinfo=UTC)
        return datetime(self.exp_year, self.exp_month + 1, 1, tzinfo=UTC)

    @property
    def expiry(self) -> str:
        if not self.exp_month or not self.exp_year:
            return ""
        return f"{self.exp_month:02d}/{self.exp_year % 100:02d}"


@dataclass(frozen=True)
class Subscription:
    id: str
    status: str | None
    plan_name: str | None
    price_id: str | None
    product_id: str | None
    quantity: int | None
    currency: str | None
    unit_amount: int | None
    interval: str | None
    interval_count: int | None
    mrr: int
    created: int | None
    current_period_start: int | None
    current_period_end: int | None
    cancel_at_period_end: bool
    cancel_at: int | None
    canceled_at: int | None
    ended_at: int | None
    trial_end: int | None
    pause_collection: dict | None
    collection_method: str | None
    default_payment_method: str | None
    latest_invoice: str | None

    @property
    def counts_toward_mrr(self) -> bool:
        return self.status in MRR_STATUSES and not self.pause_collection and bool(self.currency)

    @property
    def renews(self) -> bool:
        return (
            self.status in RENEWING_STATUSES
            and not self.cancel_at_period_end
            and not self.pause_collection
            and self.current_period_end is not None
        )


@dataclass(frozen=True)
class Customer:
    id: str
    email: str | None
    name: str | None
    currency: str | None
    delinquent: bool
    deleted: bool
    created: int | None
    metadata: dict[str, str]
    card: Card | None
    subscriptions: list[Subscription] = field(default_factory=list)

    @property
    def tags(self) -> list[str]:
        return tags_of(self.metadata)

    @property
    def primary(self) -> Subscription | None:
        """The subscription that says most about the customer now."""
        return self.subscriptions[0] if self.subscriptions else None

    @property
    def mrr(self) -> dict[str, int]:
        """This customer's share of Active MRR, per currency."""
        out: dict[str, int] = {}
        for sub in self.subscriptions:
            if sub.counts_toward_mrr and sub.currency:
                out[sub.currency] = out.get(sub.currency, 0) + sub.mrr
        return out

    @property
    def next_renewal(self) -> int | None:
        ends = [s.current_period_end for s in self.subscriptions if s.renews]
        return min(ends) if ends else None

    def card_warning(self, now: datetime | None = None) -> CardWarning | None:
        """Why the next charge may fail because of the card; None when it looks fine."""
        now = now or clock.now()
        renewal = ts_to_datetime(self.next_renewal)
        if self.card is None:
            charged = [s for s in self.subscriptions if s.renews and s.collection_method != "send_invoice"]
            return CardWarning("No card", "No card on file: the next renewal will fail.") if charged else None
        expires = self.card.expires_at
        if expires is None:
            return None
        if expires <= now:
            return CardWarning("Expired", f"The card expired at the end of {self.card.expiry}.")
        if renewal is not None and expires <= renewal:
            return CardWarning(
                "Expires before renewal",
                f"The card expires at the end of {self.card.expiry}, before the next renewal on {renewal:%Y-%m-%d}.",
            )
        return None


@dataclass(frozen=True)
class CardWarning:
    label: str  # a few words for a table cell
    text: str  # the whole sentence


@dataclass(frozen=True)
class Invoice:
    id: str
    number: str | None
    status: str | None
    subscription_id: str | None
    billing_reason: str | None
    currency: str | None
    amount_due: int | None
    amount_paid: int | None
    amount_remaining: int | None
    attempt_count: int | None
    next_payment_attempt: int | None
    hosted_invoice_url: str | None
    period_start: int | None
    period_end: int | None
    created: int | None


@dataclass(frozen=True)
class InvoiceLine:
    id: str
    description: str | None
    amount: int | None
    currency: str | None
    quantity: int | None
    price_id: str | None
    period_start: int | None
    period_end: int | None


@dataclass(frozen=True)
class Page:
    customers: list[Customer]
    # (created, id) of the last customer, to continue after; None on the last page.
    next_key: tuple[int, str] | None


# --- queries --------------------------------------------------------------------------------


def _card(row: dict | None) -> Card | None:
    if row is None or row.get("type") not in (None, "card") or not row.get("card_last4"):
        return None
    return Card(
        id=row["id"],
        brand=row["card_brand"],
        last4=row["card_last4"],
        exp_month=row["card_exp_month"],
        exp_year=row["card_exp_year"],
    )


def _subscription(row: dict) -> Subscription:
    try:
        pause = json.loads(row["pause_collection"]) if row["pause_collection"] else None
    except ValueError:
        pause = {"behavior": "unknown"}
    computed = {"plan_name", "mrr", "cancel_at_period_end", "pause_collection"}
    plain = {k: row[k] for k in Subscription.__dataclass_fields__ if k not in computed}
    return Subscription(
        **plain,
        plan_name=plan_name_of(row["product_name"], row["nickname"]) or row["price_id"],
        mrr=row["mrr"] or 0,
        cancel_at_period_end=bool(row["cancel_at_period_end"]),
        pause_collection=pause,
    )


def _in(values: list) -> str:
    return ", ".join("?" for _ in values)


def _subscriptions_by_customer(db: Database, workspace_id: int, ids: list[str]) -> dict[str, list]:
    if not ids:
        return {}
    sql = (
        "SELECT s.*, p.unit_amount, p.interval, p.interval_count, p.nickname, pr.name AS product_name "  # noqa: S608
        "FROM stripe_subscriptions s "
        "LEFT JOIN stripe_prices p ON p.workspace_id = s.workspace_id AND p.id = s.price_id "
        "LEFT JOIN stripe_products pr ON pr.workspace_id = s.workspace_id "
        "AND pr.id = COALESCE(s.product_id, p.product_id) "
        f"WHERE s.workspace_id = ? AND s.customer_id IN ({_in(ids)})"
    )
    rows = all_rows(db, sql, [workspace_id, *ids])
    out: dict[str, list[Subscription]] = {}
    for row in rows:
        out.setdefault(row["customer_id"], []).append(_subscription(row))
    for subs in out.values():
        subs.sort(key=lambda s: (_STATUS_RANK.get(s.status or "", 9), -(s.created or 0), s.id))
    return out


def _cards(db: Database, workspace_id: int, ids: list[str]) -> dict[str, Card]:
    ids = sorted({i for i in ids if i})
    if not ids:
        return {}
    rows = all_rows(
        db,
        f"SELECT * FROM stripe_payment_methods WHERE workspace_id = ? AND id IN ({_in(ids)})",  # noqa: S608
        [workspace_id, *ids],
    )
    return {r["id"]: card for r in rows if (card := _card(r)) is not None}


def _build(db: Database, workspace_id: int, rows: list[dict]) -> list[Customer]:
    subs = _subscriptions_by_customer(db, workspace_id, [r["id"] for r in rows])
    # The card on file is the customer's default; without one, the card their subscription uses.
    wanted = []
    for row in rows:
        wanted.append(row["default_payment_method"])
        wanted += [s.default_payment_method for s in subs.get(row["id"], [])]
    cards = _cards(db, workspace_id, wanted)
    customers = []
    for row in rows:
        own = subs.get(row["id"], [])
        card = cards.get(row["default_payment_method"] or "")
        if card is None:
            card = next(
                (cards[s.default_payment_method] for s in own if s.default_payment_method in cards), None
            )
        customers.append(
            Customer(
                id=row["id"],
                email=row["email"],
                name=row["name"],
                currency=row["currency"],
                delinquent=bool(row["delinquent"]),
                deleted=bool(row["deleted"]),
                created=row["created"],
                metadata=parse_metadata(row["metadata"]),
                card=card,
                subscriptions=own,
            )
        )
    return customers


def list_customers(
    db: Database,
    workspace_id: int,
    *,
    query: str | None = None,
    email: str | None = None,
    tag: str | None = None,
    limit: int = 25,
    after: tuple[int, str] | None = None,
) -> Page:
    """Customers newest first (by Stripe's ``created``), ``limit`` at a time, after ``after``.

    ``query`` finds a part of the email, name or Stripe id, ignoring case; ``email`` is an exact
    address, ignoring case; ``tag`` follows ``has_tag``. Customers deleted in Stripe are left out.
    """
    _register(db)
    where = ["workspace_id = ?", "deleted = 0"]
    params: list = [workspace_id]
    if query and query.strip():
        where.append("backstop_customer_matches(?, email, name, id)")
        params.append(fold(query.strip()))
    if email is not None and email.strip():
        where.append("email = ? COLLATE NOCASE")
        params.append(email.strip())
    if tag is not None and tag.strip():
        where.append("metadata IS NOT NULL AND backstop_has_tag(metadata, ?)")
        params.append(tag)
    if after is not None:
        where.append("(COALESCE(created, 0), id) < (?, ?)")
        params += [after[0], after[1]]
    rows = all_rows(
        db,
        f"SELECT * FROM stripe_customers WHERE {' AND '.join(where)} "  # noqa: S608 - constants only
        "ORDER BY COALESCE(created, 0) DESC, id DESC LIMIT ?",
        [*params, limit + 1],
    )
    more = len(rows) > limit
    rows = rows[:limit]
    last = rows[-1] if rows else None
    next_key = (last["created"] or 0, last["id"]) if more and last else None
    return Page(_build(db, workspace_id, rows), next_key)


def count_customers(db: Database, workspace_id: int) -> int:
    row = one(
        db,
        "SELECT COUNT(*) AS n FROM stripe_customers WHERE workspace_id = ? AND deleted = 0",
        [workspace_id],
    )
    return row["n"] if row else 0


def get_customer(db: Database, workspace_id: int, customer_id: str) -> Customer | None:
    """One customer of this workspace (even one deleted in Stripe), or None."""
    row = one(
        db, "SELECT * FROM stripe_customers WHERE workspace_id = ? AND id = ?", [workspace_id, customer_id]
    )
    return _build(db, workspace_id, [row])[0] if row else None


def invoices(
    db: Database, workspace_id: int, customer_id: str, limit: int = RECENT_INVOICES
) -> list[Invoice]:
    """The customer's mirrored invoices, newest first."""
    rows = all_rows(
        db,
        "SELECT * FROM stripe_invoices WHERE workspace_id = ? AND customer_id = ? AND deleted = 0 "
        "ORDER BY COALESCE(created, 0) DESC, id DESC LIMIT ?",
        [workspace_id, customer_id, limit],
    )
    names = Invoice.__dataclass_fields__
    return [Invoice(**{k: r[k] for k in names}) for r in rows]


def invoice_lines(
    db: Database, workspace_id: int, customer_id: str, invoice_id: str
) -> list[InvoiceLine] | None:
    """The lines of one of the customer's invoices, in Stripe's order; None when the invoice is
    not this customer's (in this workspace)."""
    owner = one(
        db,
        "SELECT 1 AS ok FROM stripe_invoices WHERE workspace_id = ? AND id = ? AND customer_id = ?",
        [workspace_id, invoice_id, customer_id],
    )
    if owner is None:
        return None
    rows = all_rows(
        db,
        "SELECT * FROM stripe_invoice_lines WHERE workspace_id = ? AND invoice_id = ? ORDER BY position",
        [workspace_id, invoice_id],
    )
    names = InvoiceLine.__dataclass_fields__
    return [InvoiceLine(**{k: r[k] for k in names}) for r in rows]


# Campaign columns worth showing beside a customer, whichever of them the table has.
_CAMPAIGN_COLUMNS = (
    "id",
    "status",
    "invoice_id",
    "subscription_id",
    "currency",
    "amount_due",
    "decline_code",
    "opened_at",
    "closed_at",
    "close_reason",
)


def recent_campaigns(
    db: Database, workspace_id: int, customer_id: str, limit: int = RECENT_CAMPAIGNS
) -> list[dict]:
    """The customer's latest recovery campaigns, newest first."""
    sql = f"SELECT {', '.join(_CAMPAIGN_COLUMNS)} FROM campaigns WHERE workspace_id = ? AND customer_id = ? ORDER BY id DESC LIMIT ?"  # noqa: S608
    return all_rows(db, sql, [workspace_id, customer_id, limit])


def active_mrr(db: Database, workspace_id: int) -> tuple[dict[str, int], int]:
    """Active MRR per currency, and how many subscriptions make it up (see the module's note)."""
    amounts: dict[str, int] = {}
    count = 0
    sql = f"SELECT currency, SUM(mrr), COUNT(*) FROM stripe_subscriptions WHERE workspace_id = ? AND {_MRR_WHERE} GROUP BY currency ORDER BY currency"  # noqa: S608
    for row in db.execute(sql, [workspace_id]):
        amounts[row[0]] = row[1] or 0
        count += row[2]
    return amounts, count
