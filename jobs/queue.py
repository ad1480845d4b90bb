"""The Huey instance, its SQLite storage in jobs.db, and the in-process consumer.

The queue is disposable: work that must happen is a row in backstop.db first (see
``backstop.lib.workrows``), and the sweeper re-enqueues rows a lost task left behind.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from huey import SqliteHuey
from huey.consumer import Consumer
from huey.storage import SqliteStorage
from sqlite_utils import Database

from backstop.db import opened
from backstop.settings import Settings

log = logging.getLogger("backstop.jobs")


class QueueStorage(SqliteStorage):
    """Huey's SQLite storage with ``synchronous=NORMAL`` (Huey offers FULL or OFF). In WAL mode
    every commit survives the process being killed; only a power cut can undo the last few, and
    the queue is disposable: the sweeper re-enqueues what its rows say. FULL synced the disk on
    every enqueue and dequeue, which under a webhook burst held each batch's answer for as long
    as a busy disk took."""

    def _create_connection(self):
        conn = super()._create_connection()
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn


# Immediate (in-memory, inline) until configure() points it at jobs.db: importing a task module
# never touches the disk, and tests can run tasks inline.
huey = SqliteHuey("backstop", immediate=True, utc=True, storage_class=QueueStorage)

_settings: Settings | None = None
_lock = threading.Lock()


def configure(settings: Settings, *, immediate: bool = False) -> None:
    global _settings
    with _lock:
        _settings = settings
        from backstop.lib.filemodes import private_file

        if settings.data_dir.is_dir():
            private_file(settings.jobs_db_path)
        huey.storage_kwargs.update(filename=str(settings.jobs_db_path), journal_mode="wal", timeout=5)
        huey.immediate = immediate
        if not immediate:
            huey.storage = huey.create_storage()


def settings() -> Settings:
    if _settings is None:
        raise RuntimeError("jobs.queue.configure(settings) has not been called")
    return _settings


@contextmanager
def app_db() -> Iterator[Database]:
    """A connection to backstop.db for one task run."""
    with opened(settings().db_path) as db:
        yield db


class InProcessConsumer(Consumer):
    """Huey's consumer without its signal handlers: the web server owns SIGINT/SIGTERM and
    stops us from its shutdown hook."""

    def _set_signal_handlers(self) -> None:
        return None


def start_consumer(workers: int = 2) -> InProcessConsumer:
    from backstop import manifest

    manifest.load()  # the consumer knows every listed task by name, whoever started it
    # Poll at most every 0.5 s when idle, so a task enqueued by a request starts within a second.
    consumer = InProcessConsumer(
        huey,
        workers=workers,
        worker_type="thread",
        periodic=True,
        initial_delay=0.05,
        backoff=1.5,
        max_delay=0.5,
        scheduler_interval=1,
        shutdown_timeout=20,
    )
    consumer.start()
    from backstop.lib import workrows
    from jobs.sweeper import enqueue_ready

    workrows.on_ready(enqueue_ready)  # work rows run when committed, not at the next sweep
    log.info("jobs consumer started with %d workers", workers)
    return consumer


def stop_consumer(consumer: InProcessConsumer) -> None:
    from backstop.lib import workrows

    workrows.on_ready(None)
    consumer.stop(graceful=True)
    log.info("jobs consumer stopped")
