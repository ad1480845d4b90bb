"""Stripe tasks: process a stored event, run a backfill, poll events, reconcile the last 72 h."""

from __future__ import annotations

import logging
import threading
import time

from huey import crontab

from backstop.connectors.stripe import StripeAuthFailed, StripeFailure
from backstop.db import write_transaction
from backstop.lib import workrows
from backstop.lib.crypto import SecretBox
from backstop.stripe_sync import backfill, connection, events, polling
from jobs.queue import app_db, huey, settings

log = logging.getLogger("backstop.jobs.stripe")


def _box() -> SecretBox:
    return SecretBox(settings().secret_key)


def _gateway_for(db, **overrides):
    box, conf = _box(), settings()

    def make(workspace_id: int):
        return connection.gateway(db, box, conf, workspace_id, **overrides)

    return make


def _fetcher_for(db):
    # Handlers read Stripe inside the event's write transaction: one retry, not four with
    # growing sleeps, so a struggling Stripe can't hold the database while webhooks wait. A
    # failed read fails the event, which is retried with its own backoff.
    make = _gateway_for(db, max_attempts=2)

    def fetch_for(workspace_id: int):
        gateway = None

        def fetch(path: str, params: dict | None = None) -> dict:
            nonlocal gateway
            gateway = gateway or make(workspace_id)
            return gateway.get(path, params)

        return fetch

    return fetch_for


@huey.task(name="stripe.process_event")
def process_event(row_id: int) -> str | None:
    with app_db() as db:
        outcome = events.process_event(db, row_id, _fetcher_for(db), settings())
    if outcome == "processed":
        _run_due_steps()
    return outcome


# One pass runs at a time. When a pass was last queued and has not started yet (None: none is
# waiting); a queued pass that never starts (its task lost) stops blocking new asks after
# PASS_WAIT seconds. An event stored while a pass runs sets _again instead of queueing a second
# pass (which would only query and claim the same rows from the other worker): the running pass
# looks for due events once more before it ends.
_pass_asked_at: float | None = None
_pass_running = False
_again = False
_pass_lock = threading.Lock()
PASS_WAIT = 30.0
# A pass commits several events at once, for at most CHUNK_SECONDS of work: fewer commits, and a
# webhook waiting for the write lock waits no longer than that.
CHUNK_SECONDS = 0.02
# While webhooks keep arriving (one stored within BUSY_SECONDS), the pass rests YIELD_SECONDS
# after each chunk of BURST_CHUNK_SECONDS: answering Stripe comes first (the chunk shares the
# interpreter with the event loop), and the events are safe in their rows. It catches up as soon
# as the burst ends. A burst is deferred this way for at most DEFER_SECONDS from its first event;
# a stream that lasts longer is processed as it arrives, the pass resting HANDOFF_SECONDS between
# chunks so that a webhook waiting for the write turn gets it (a lock isn't handed over in
# order). A burst begins after QUIET_SECONDS without a webhook: a stall of a few tenths of a
# second in a long stream (a slow answer, a checkpoint) doesn't begin another deferral.
BUSY_SECONDS = 0.05
YIELD_SECONDS = 0.5
BURST_CHUNK_SECONDS = 0.005
DEFER_SECONDS = 5.0
HANDOFF_SECONDS = 0.002
QUIET_SECONDS = 1.0
# During a long pass, due recovery steps (a campaign an event just opened) run this often.
STEPS_EVERY_SECONDS = 1.0
_last_event_at = float("-inf")
_burst_started_at = float("-inf")


@huey.task(name="stripe.process_due_events")
def process_due_events() -> None:
    """Process every stored event that is due, oldest first, until none is left.

    Webhooks ask for a pass instead of queueing a task per event: under a burst, one pass takes
    hundreds of events without a queue write for each. Returns nothing, so no result is stored.
    """
    global _pass_asked_at, _pass_running, _again
    with _pass_lock:
        _pass_asked_at = None
        if _pass_running:  # another pass is at work: it will look again before it ends
            _again = True
            return
        _pass_running = True
    try:
        while True:
            with _pass_lock:
                _again = False
            _pass_over_due_events()
            with _pass_lock:
                if not _again:
                    _pass_running = False
                    return
    except BaseException:
        with _pass_lock:
            _pass_running = False  # the rows stay due: the next ask or the sweeper takes them
        raise


def _pass_over_due_events() -> None:
    processed = 0
    steps_run_at = time.monotonic()
    with app_db() as db:
        fetch_for = _fetcher_for(db)
        while ids := sorted(workrows.due_ids(db, events.TABLE, limit=200)):
            while ids:
                # Each event keeps its own savepoint inside the chunk's transaction: a handler
                # that fails rolls back only its event, which is retried on its own schedule.
                limit = BURST_CHUNK_SECONDS if _deferring(time.monotonic()) else CHUNK_SECONDS
                with events.write_turn, write_transaction(db):
                    started = time.perf_counter()
                    while ids and time.perf_counter() - started < limit:
                        processed += (
                            events.process_event(db, ids.pop(0), fetch_for, settings()) == "processed"
                        )
                if processed and time.monotonic() - steps_run_at >= STEPS_EVERY_SECONDS:
                    _run_due_steps()
                    processed, steps_run_at = 0, time.monotonic()
                now = time.monotonic()
                if ids and _deferring(now):
                    time.sleep(YIELD_SECONDS)
                elif ids and now - _last_event_at < BUSY_SECONDS:  # past the deferral
                    time.sleep(HANDOFF_SECONDS)
    if processed:
        _run_due_steps()


def _deferring(now: float) -> bool:
    """Whether a pass should rest between chunks: webhooks are arriving, in a burst that began
    less than DEFER_SECONDS ago."""
    return now - _last_event_at < BUSY_SECONDS and now - _burst_started_at < DEFER_SECONDS


def _run_due_steps() -> None:
    # An event may have opened a campaign or brought a retry forward: run what is due now rather
    # than at the next minute.
    from jobs.recovery import run_due_steps

    run_due_steps.call_local()


def ask_for_processing() -> None:
    """After an event is committed: make sure a pass over due events is queued or running."""
    global _pass_asked_at, _last_event_at, _burst_started_at, _again
    now = time.monotonic()
    if now - _last_event_at >= QUIET_SECONDS:
        _burst_started_at = now
    _last_event_at = now
    with _pass_lock:
        if _pass_running:
            _again = True
            return
        if _pass_asked_at is not None and now - _pass_asked_at < PASS_WAIT:
            return
        _pass_asked_at = now
    try:
        process_due_events()
    except Exception:
        with _pass_lock:
            _pass_asked_at = None  # the rows are committed: the sweeper will take them
        raise


@huey.task(name="stripe.run_backfill")
def run_backfill(row_id: int) -> str | None:
    with app_db() as db:
        return backfill.run(db, row_id, _gateway_for(db))


def enqueue_events(row_ids: list[int]) -> None:
    for row_id in row_ids:
        process_event(row_id)


@huey.periodic_task(crontab(minute="*"), name="stripe.poll_events")
def poll_events() -> int:
    """Installs Stripe can't reach (laptops, the desktop app) fetch new events every minute."""
    taken = 0
    with app_db() as db:
        for workspace_id in connection.live_workspace_ids(db, polling_only=True):
            try:
                new = polling.poll(db, workspace_id, _gateway_for(db)(workspace_id))
            except StripeAuthFailed as exc:
                connection.mark_failing(db, workspace_id, f"Stripe refused Backstop's key: {exc.message}")
                continue
            except StripeFailure as exc:
                log.warning("polling events for workspace %s failed: %s", workspace_id, exc.message)
                continue
            enqueue_events(new)
            taken += len(new)
    return taken


@huey.periodic_task(crontab(minute="17", hour="*/3"), name="stripe.reconcile_events")
def reconcile_events() -> int:
    """Catch events a webhook missed: re-read the last 72 hours every three hours."""
    taken = 0
    with app_db() as db:
        for workspace_id in connection.live_workspace_ids(db):
            try:
                new = polling.reconcile(db, workspace_id, _gateway_for(db)(workspace_id))
            except StripeFailure as exc:
                log.warning("reconciling events for workspace %s failed: %s", workspace_id, exc.message)
                continue
            enqueue_events(new)
            taken += len(new)
    return taken
