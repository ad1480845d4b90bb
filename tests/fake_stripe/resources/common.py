"""Small helpers the resource modules share."""

from __future__ import annotations

from typing import Any

from ..state import Store, changes, snapshot


class Change:
    """Capture an object before a change; `done()` emits `<type>` with `previous_attributes` if it changed.

    Usage: `with Change(store, sub, "customer.subscription.updated"): sub["status"] = "past_due"`.
    """

    def __init__(self, store: Store, obj: dict[str, Any], event_type: str | None) -> None:
        self.store, self.obj, self.event_type = store, obj, event_type
        self.before = snapshot(obj)

    def __enter__(self) -> Change:
        return self

    def __exit__(self, exc_type: Any, *_: Any) -> None:
        if exc_type is None:
            self.done()

    def done(self) -> dict[str, Any]:
        previous = changes(self.before, self.obj)
        if previous and self.event_type:
            self.store.emit(self.event_type, self.obj, previous)
        self.before = snapshot(self.obj)
        return previous
