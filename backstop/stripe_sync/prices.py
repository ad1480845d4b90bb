"""Mirrored prices, read for other domains: what a founder can pick as a downgrade or annual
target, and what a month of the dearest plan costs (to value an offer)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlite_utils import Database

from backstop.db import all_rows
from backstop.lib.money import money


@dataclass(frozen=True)
class PriceInfo:
    id: str
    product_name: str
    nickname: str
    unit_amount: int
    currency: str
    interval: str  # day | week | month | year
    interval_count: int

    @property
    def monthly_amount(self) -> int:
        """The price spread over months (a yearly price / 12), in minor units."""
        per_month = {"day": 30, "week": 30 / 7, "month": 1, "year": 1 / 12}.get(self.interval, 1)
        return round(self.unit_amount * per_month / max(self.interval_count, 1))

    @property
    def label(self) -> str:
        name = self.nickname or self.product_name or self.id
        every = self.interval if self.interval_count == 1 else f"{self.interval_count} {self.interval}s"
        return f"{name} — {money(self.unit_amount, self.currency)} / {every}"


def recurring_prices(db: Database, workspace_id: int) -> list[PriceInfo]:
    """Active recurring prices of active products, cheapest first within each product."""
    rows = all_rows(
        db,
        "SELECT p.id, COALESCE(prod.name, '') AS product_name, COALESCE(p.nickname, '') AS nickname, "
        "p.unit_amount, p.currency, p.interval, COALESCE(p.interval_count, 1) AS interval_count "
        "FROM stripe_prices p LEFT JOIN stripe_products prod "
        "ON prod.workspace_id = p.workspace_id AND prod.id = p.product_id "
        "WHERE p.workspace_id = ? AND p.active = 1 AND p.deleted = 0 AND p.interval IS NOT NULL "
        "AND p.unit_amount IS NOT NULL AND COALESCE(prod.active, 1) = 1 AND COALESCE(prod.deleted, 0) = 0 "
        "ORDER BY product_name, p.unit_amount, p.id",
        [workspace_id],
    )
    return [PriceInfo(**r) for r in rows]


def max_monthly_amount(db: Database, workspace_id: int, currency: str) -> int | None:
    """A month of the workspace's dearest recurring price in this currency, or None."""
    amounts = [p.monthly_amount for p in recurring_prices(db, workspace_id) if p.currency == currency]
    return max(amounts) if amounts else None
