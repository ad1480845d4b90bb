"""Jinja filters for money and times, shared by admin pages and emails."""

from __future__ import annotations

from datetime import datetime

from jinja2 import Environment

from backstop import clock
from backstop.lib.money import money


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


def day(value: int | str | datetime | None) -> str:
    """A calendar day a customer reads: "5 December 2026" (Stripe timestamps are seconds)."""
    if value is None or value == "":
        return ""
    if isinstance(value, int | float):
        from datetime import UTC

        value = datetime.fromtimestamp(value, UTC)
    dt = clock.parse(value) if isinstance(value, str) else value
    return f"{dt.day} {dt:%B %Y}"


def install(env: Environment) -> None:
    env.filters["money"] = money
    env.filters["reltime"] = reltime
    env.filters["exact"] = exact
    env.filters["day"] = day
    env.autoescape = True
