"""Money for people: integer minor units and a currency to '$49.00'."""

from __future__ import annotations

ZERO_DECIMAL = {
    "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv",
    "xaf", "xof", "xpf",
}  # fmt: skip
SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£", "jpy": "¥", "cad": "CA$", "aud": "A$", "inr": "₹"}


def money(amount: int | None, currency: str | None) -> str:
    if amount is None or not currency:
        return "—"
    if amount < 0:  # a net loss reads "-$9.00", not "$-9.00"
        return "-" + money(-amount, currency)
    cur = currency.lower()
    value = amount if cur in ZERO_DECIMAL else amount / 100
    text = f"{value:,.0f}" if cur in ZERO_DECIMAL else f"{value:,.2f}"
    symbol = SYMBOLS.get(cur)
    return f"{symbol}{text}" if symbol else f"{text} {cur.upper()}"
