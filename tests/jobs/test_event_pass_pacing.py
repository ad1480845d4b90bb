"""How the event processing pass shares the process with a burst of webhooks.

A burst is answered first and processed right after; a stream that goes on longer than
DEFER_SECONDS is processed as it arrives, so no event waits on the burst for long.
"""

from __future__ import annotations

import pytest

from jobs import stripe as stripe_jobs


@pytest.fixture
def quiet(monkeypatch):
    monkeypatch.setattr(stripe_jobs, "_last_event_at", float("-inf"))
    monkeypatch.setattr(stripe_jobs, "_burst_started_at", float("-inf"))
    # A pass is already queued, so an arriving event only notes its time.
    monkeypatch.setattr(stripe_jobs, "_pass_asked_at", 0.0)
    monkeypatch.setattr(stripe_jobs, "PASS_WAIT", float("inf"))
    monkeypatch.setattr(stripe_jobs, "process_due_events", lambda: pytest.fail("no second pass"))


def _arrive(monkeypatch, at: float) -> None:
    monkeypatch.setattr(stripe_jobs.time, "monotonic", lambda: at)
    stripe_jobs.ask_for_processing()


def test_a_pass_rests_while_a_burst_arrives_and_not_after_it(monkeypatch, quiet):
    for i in range(50):  # 50 events 10 ms apart
        _arrive(monkeypatch, 100.0 + i * 0.01)
    assert stripe_jobs._deferring(100.5)
    assert not stripe_jobs._deferring(100.49 + stripe_jobs.BUSY_SECONDS + 0.01)


def test_a_stream_longer_than_the_deferral_is_processed_as_it_arrives(monkeypatch, quiet):
    t = 100.0
    while t < 100.0 + stripe_jobs.DEFER_SECONDS + 1:
        _arrive(monkeypatch, t)
        t += 0.01
    assert not stripe_jobs._deferring(t)


def test_a_pause_between_bursts_starts_a_new_deferral(monkeypatch, quiet):
    t = 100.0
    while t < 100.0 + stripe_jobs.DEFER_SECONDS + 1:
        _arrive(monkeypatch, t)
        t += 0.01
    _arrive(monkeypatch, t + 1.0)  # a second of quiet, then a new burst
    assert stripe_jobs._deferring(t + 1.01)


def test_events_stored_while_a_pass_runs_are_taken_by_that_pass_not_a_second_one(monkeypatch):
    """The other worker stays free: an event that arrives mid-pass makes the running pass look
    again before it ends, instead of queueing a pass that would query and claim the same rows."""
    monkeypatch.setattr(stripe_jobs, "_pass_asked_at", None)
    monkeypatch.setattr(stripe_jobs, "_pass_running", False)
    monkeypatch.setattr(stripe_jobs, "_last_event_at", float("-inf"))
    monkeypatch.setattr(stripe_jobs, "_burst_started_at", float("-inf"))
    queued: list[str] = []
    looks: list[int] = []
    pass_task = stripe_jobs.process_due_events

    def queue_a_pass() -> None:
        queued.append("pass")
        pass_task.call_local()

    def look_for_due_events() -> None:
        looks.append(len(looks))
        if len(looks) == 1:
            stripe_jobs.ask_for_processing()  # an event committed while this pass works

    monkeypatch.setattr(stripe_jobs, "process_due_events", queue_a_pass)
    monkeypatch.setattr(stripe_jobs, "_pass_over_due_events", look_for_due_events)
    stripe_jobs.ask_for_processing()
    assert queued == ["pass"]  # one pass queued, none for the event that came during it
    assert looks == [0, 1]  # which that pass then looked for
    assert not stripe_jobs._pass_running
    stripe_jobs.ask_for_processing()  # after the pass: the next event queues a new one
    assert queued == ["pass", "pass"]


def test_a_pass_that_fails_does_not_stop_later_passes(monkeypatch):
    monkeypatch.setattr(stripe_jobs, "_pass_asked_at", None)
    monkeypatch.setattr(stripe_jobs, "_pass_running", False)

    def broken() -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(stripe_jobs, "_pass_over_due_events", broken)
    with pytest.raises(RuntimeError):
        stripe_jobs.process_due_events.call_local()
    assert not stripe_jobs._pass_running  # the rows stay due, and the next ask starts a pass


def test_a_short_stall_in_a_long_stream_does_not_begin_another_deferral(monkeypatch, quiet):
    t = 100.0
    while t < 100.0 + stripe_jobs.DEFER_SECONDS + 2:
        _arrive(monkeypatch, t)
        # a 0.2 s stall three seconds in: the stream goes on, so the 5 s still count from its start
        t += 0.2 if abs(t - 103.0) < 0.005 else 0.01
    assert not stripe_jobs._deferring(t)
