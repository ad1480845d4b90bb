"""Moving time forward like a Stripe test clock: everything due happens, in order.

Due work: trial_will_end notices (3 days before a trial ends), trial ends and renewals at period
end (or cancellation when `cancel_at_period_end`/`cancel_at` says so), the automatic retries of open
invoices whose `auto_advance` is true (at `next_payment_attempt`, per `state.billing.retry_days`),
drafts that finalize themselves after an hour, `pause_collection[resumes_at]`, and incomplete
subscriptions expiring after 23 hours.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .clock import DAY
from .resources.billing import attempt_payment, finalize
from .resources.common import Change
from .resources.lifecycle import cancel_now, expire_incomplete, renew
from .state import State, Store

Action = tuple[int, int, Callable[[Store, dict[str, Any]], Any], Store, dict[str, Any]]
RENEWING = ("active", "past_due", "trialing", "unpaid")


def advance(state: State, seconds: float = 0, *, days: float = 0) -> int:
    """Move the fake clock forward, running everything that falls due on the way. Returns the new now."""
    with state.lock:
        target = state.clock.now() + int(seconds + days * DAY)
        for _ in range(100_000):
            action = _next_due(state, target)
            if action is None:
                break
            at, _, run, store, obj = action
            if at > state.clock.now():
                state.clock.set(at)
            run(store, obj)
        else:  # pragma: no cover - a loop here is a bug in the fake
            raise RuntimeError("fake Stripe: time engine did not settle")
        if state.clock.now() < target:
            state.clock.set(target)
        return state.clock.now()


def _next_due(state: State, until: int) -> Action | None:
    best: Action | None = None
    order = 0
    for store in list(state.stores.values()):
        for candidate in _due_in(state, store):
            order += 1
            at = candidate[0]
            if at <= until and (best is None or at < best[0]):
                best = (at, order, *candidate[1:])  # type: ignore[assignment]
    return best


def _due_in(state: State, store: Store):
    for sub in list(store.all("subscription")):
        status = sub["status"]
        if status == "incomplete":
            yield sub["created"] + 23 * 3600, _expire, store, sub
            continue
        if status not in RENEWING or not sub["items"]["data"]:
            continue
        period_end = sub["items"]["data"][0]["current_period_end"]
        if status == "trialing" and sub["trial_end"]:
            notice = sub["trial_end"] - 3 * DAY
            if (sub["id"], sub["trial_end"]) not in state.trial_notices and notice > sub["trial_start"]:
                yield notice, _trial_will_end, store, sub
        if sub["cancel_at"] is not None and sub["cancel_at"] < period_end:
            yield sub["cancel_at"], _cancel, store, sub
        pause = sub["pause_collection"]
        if pause is not None and pause["resumes_at"] is not None:
            yield pause["resumes_at"], _resume_collection, store, sub
        yield period_end, _renew, store, sub
    for inv in list(store.all("invoice")):
        if not inv["auto_advance"]:
            continue
        if inv["status"] == "open" and inv["next_payment_attempt"] is not None:
            yield inv["next_payment_attempt"], _retry, store, inv
        elif inv["status"] == "draft" and inv["automatically_finalizes_at"] is not None:
            yield inv["automatically_finalizes_at"], _finalize_and_charge, store, inv


def _expire(store: Store, sub: dict[str, Any]) -> None:
    expire_incomplete(store, sub)


def _trial_will_end(store: Store, sub: dict[str, Any]) -> None:
    store.state.trial_notices.add((sub["id"], sub["trial_end"]))
    store.emit("customer.subscription.trial_will_end", sub)


def _cancel(store: Store, sub: dict[str, Any]) -> None:
    cancel_now(store, sub)


def _resume_collection(store: Store, sub: dict[str, Any]) -> None:
    with Change(store, sub, "customer.subscription.updated"):
        sub["pause_collection"] = None


def _renew(store: Store, sub: dict[str, Any]) -> None:
    renew(store, sub)


def _retry(store: Store, inv: dict[str, Any]) -> None:
    sub = _subscription(store, inv)
    if sub is not None and sub["status"] in ("canceled", "incomplete_expired"):
        inv["next_payment_attempt"] = None
        return
    attempt_payment(store, inv)


def _finalize_and_charge(store: Store, inv: dict[str, Any]) -> None:
    finalize(store, inv)
    if inv["status"] == "open" and inv["collection_method"] == "charge_automatically":
        attempt_payment(store, inv)


def _subscription(store: Store, inv: dict[str, Any]) -> dict[str, Any] | None:
    details = (inv.get("parent") or {}).get("subscription_details") or {}
    return store.find(details.get("subscription"))
