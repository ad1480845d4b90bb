"""Jinja filters for money and times, shared by admin pages and emails."""

from __future__ import annotations

from datetime import datetime

from jinja2 import Environment

from backstop import clock
from backstop.email.messages import status_label
from backstop.lib.money import money
from backstop.web.api.reference import markdown, markdown_inline


def day_label(dt: datetime) -> str:
    """'8 Dec' this year, '8 Dec 2025' otherwise (UTC, like the exact time in the title)."""
    dt = dt.astimezone(clock.now().tzinfo)
    label = f"{dt.day} {dt:%b}"
    return label if dt.year == clock.now().year else f"{label} {dt.year}"


def reltime(value: str | datetime | None) -> str:
    """'just now', '5 minutes ago', 'in 3 hours' for anything within a day, rounded to the
    nearest unit; the date ('8 Dec') for anything further away. The exact time goes in a title
    attribute beside it."""
    if not value:
        return "never"
    dt = clock.parse(value) if isinstance(value, str) else value
    seconds = (clock.now() - dt).total_seconds()
    future = seconds < 0
    seconds = abs(seconds)
    if seconds < 45:
        return "just now"
    if seconds < 3570:
        n, unit = max(1, round(seconds / 60)), "minute"
    elif seconds < 84600:
        n, unit = round(seconds / 3600), "hour"
    else:  # a day or more away (what would round to "24 hours" included): the date
        return day_label(dt)
    text = f"{n} {unit}{'s' if n != 1 else ''}"
    return f"in {text}" if future else f"{text} ago"


def when(value: str | datetime | None) -> str:
    """reltime for use inside a sentence: 'in 3 hours', 'on 8 Dec'."""
    text = reltime(value)
    return f"on {text}" if text[:1].isdigit() else text


def in_days(value: str | datetime | None) -> str:
    """'in 3 days' / '3 days ago', rounded to the nearest day (a retry at +2.6 days is 'in 3 days')."""
    if not value:
        return ""
    dt = clock.parse(value) if isinstance(value, str) else value
    days = round((dt - clock.now()).total_seconds() / 86400)
    if days == 0:
        return "today"
    if days == 1:
        return "tomorrow"
    if days == -1:
        return "yesterday"
    return f"in {days} days" if days > 0 else f"{-days} days ago"


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
    env.filters["in_days"] = in_days
    env.filters["when"] = when
    env.filters["email_status"] = status_label
    env.filters["markdown"] = markdown
    env.filters["markdown_inline"] = markdown_inline
    env.filters["exact"] = exact
    env.filters["day"] = day
    env.autoescape = True
