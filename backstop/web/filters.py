"""Jinja filters for money and times, shared by admin pages and emails."""

from __future__ import annotations

from datetime import datetime

from jinja2 import Environment

from backstop import clock

ZERO_DECIMAL = {
    "bif",
    "clp",
    "djf",
    "gnf",
    "jpy",
    "kmf",
    "krw",
    "mga",
    "pyg",
    "rwf",
    "ugx",
    "vnd",
    "vuv",
    "xaf",
    "xof",
    "xpf",
}
SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£", "jpy": "¥", "cad": "CA$", "aud": "A$", "inr": "₹"}


def money(amount: int | None, currency: str | None) -> str:
    """Integer minor units to a readable amount: 4900, 'usd' → '$49.00'."""
    if amount is None or not currency:
        return "—"
    cur = currency.lower()
    value = amount if cur in ZERO_DECIMAL else amount / 100
    text = f"{value:,.0f}" if cur in ZERO_DECIMAL else f"{value:,.2f}"
    symbol = SYMBOLS.get(cur)
    return f"{symbol}{text}" if symbol else f"{text} {cur.upper()}"


def reltime(value: str | datetime | None) -> str:
    """'3 minutes ago' / 'in 2 days'; the exact time goes in a title attribute beside it."""
    if not value:
        return "never"
    dt = clock.parse(value) if isinstance(value, str) else value
    seconds = int((clock.now() - dt).total_seconds())
    future = seconds < 0
    seconds = abs(seconds)
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = seconds // size
            text = f"{n} {unit}{'s' if n != 1 else ''}"
            return f"in {text}" if future else f"{text} ago"
    return "just now"


def exact(value: str | None) -> str:
    if not value:
        return ""
    return clock.parse(value).strftime("%Y-%m-%d %H:%M UTC")


def install(env: Environment) -> None:
    env.filters["money"] = money
    env.filters["reltime"] = reltime
    env.filters["exact"] = exact
    env.autoescape = True
