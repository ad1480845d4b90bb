"""The one clock Backstop asks. Tests move it with time-machine; nothing else reads the time."""

from datetime import UTC, datetime


def now() -> datetime:
    return datetime.now(UTC)


def now_ts() -> float:
    return now().timestamp()


def iso(dt: datetime | None = None) -> str:
    """UTC timestamp as stored in the database: ISO-8601 with seconds, always 'Z'-free +00:00."""
    return (dt or now()).astimezone(UTC).isoformat(timespec="seconds")


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value).astimezone(UTC)
