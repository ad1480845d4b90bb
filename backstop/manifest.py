"""The capability manifest: every event-handler module, job module and work-row table, listed.

Handlers (``@on`` in ``backstop.stripe_sync.events``), Huey tasks and the sweeper's work tables
register themselves when their module is imported. Left to imports, what runs would depend on
which entry point happened to import what (a replay that never imported the win-back handlers
would mark ``customer.subscription.deleted`` events "ignored"). So every entry point (the web
server, the jobs consumer, each CLI command, the tests) calls ``load()``, and ``load()`` imports
exactly what is listed here, in this order.

Adding a capability is one line in ``CAPABILITIES``::

    Capability("cancel_flows", handlers=("backstop.cancel_flows.handlers",),
               tasks=("jobs.cancel_flows",), work_tables=(("cancel_sessions", "jobs.cancel_flows:run"),)),

- ``handlers``: modules that define ``@on(...)`` event handlers.
- ``tasks``: modules that define ``@huey.task`` / ``@huey.periodic_task`` functions.
- ``work_tables``: ``(table, "module:task")`` pairs the periodic sweeper re-enqueues when a row
  is due (see ``backstop.lib.workrows``); the task takes one row id.

``tests/test_manifest.py`` fails when a module defines a handler or a task, or registers a work
table, and is not listed here. Modules are named as strings, so this file imports nothing from
the layers it lists.
"""

from __future__ import annotations

import importlib
import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class Capability:
    name: str
    handlers: tuple[str, ...] = ()
    tasks: tuple[str, ...] = ()
    work_tables: tuple[tuple[str, str], ...] = ()


# Order matters only between handlers of one event type at the same stage: they run in this order.
CAPABILITIES: tuple[Capability, ...] = (
    Capability(
        "stripe_sync",
        handlers=("backstop.stripe_sync.handlers",),
        tasks=("jobs.stripe",),
        work_tables=(
            ("stripe_events", "jobs.stripe:process_event"),
            ("stripe_backfills", "jobs.stripe:run_backfill"),
        ),
    ),
    Capability("recovery", handlers=("backstop.recovery.handlers",), tasks=("jobs.recovery",)),
    Capability(
        "winback",
        handlers=("backstop.recovery.winback", "backstop.recovery.reminders"),
        tasks=("jobs.winback",),
    ),
    Capability("email", tasks=("jobs.email",), work_tables=(("email_messages", "jobs.email:send_message"),)),
    Capability(
        "cancel_flows",
        tasks=("jobs.cancel_flows",),
        work_tables=(("cancel_actions", "jobs.cancel_flows:apply_action"),),
    ),
    Capability(
        "webhooks_out",
        tasks=("jobs.webhooks",),
        work_tables=(("webhook_deliveries", "jobs.webhooks:deliver"),),
    ),
    Capability("embed", tasks=("jobs.embed",)),
    Capability(
        "reporting",
        tasks=("jobs.reporting",),
        work_tables=(("weekly_summaries", "jobs.reporting:send_weekly_summary"),),
    ),
    Capability("sweeper", tasks=("jobs.sweeper",)),
)

_loaded = False
_lock = threading.Lock()


def handler_modules() -> list[str]:
    return [m for c in CAPABILITIES for m in c.handlers]


def task_modules() -> list[str]:
    return [m for c in CAPABILITIES for m in c.tasks]


def work_tables() -> list[tuple[str, str]]:
    return [t for c in CAPABILITIES for t in c.work_tables]


def load() -> None:
    """Import every listed module and register every work table. Safe to call more than once."""
    global _loaded
    with _lock:
        if _loaded:
            return
        for name in handler_modules():
            importlib.import_module(name)
        for name in task_modules():
            importlib.import_module(name)
        sweeper = importlib.import_module("jobs.sweeper")
        for table, target in work_tables():
            module, _, attr = target.partition(":")
            sweeper.register(table, getattr(importlib.import_module(module), attr))
        importlib.import_module("backstop.stripe_sync.events").handlers_loaded()
        _loaded = True
