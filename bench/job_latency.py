"""Enqueue-to-start latency of a background task when the in-process consumer is idle.

Runs the consumer exactly as `backstop serve` does (jobs.queue.start_consumer on a jobs.db in a
temporary data directory), then, after an idle pause each time, enqueues a task that notes when
it started. An idle consumer polls with a growing delay, so the pause lets it reach its longest
wait before each sample. Target: a task starts within about a second.

    .venv/bin/python bench/job_latency.py [--samples 20] [--idle 1.5]
"""

from __future__ import annotations

import argparse
import logging
import random
import statistics
import tempfile
import threading
import time
from pathlib import Path

from backstop.db import migrate
from backstop.settings import Settings
from jobs import queue

TARGET_S = 1.0
started: dict[int, float] = {}
arrived = threading.Condition()


@queue.huey.task(name="bench.note_start")
def note_start(sample: int) -> None:
    with arrived:
        started[sample] = time.perf_counter()
        arrived.notify_all()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--idle", type=float, default=1.5, help="seconds idle before each sample (±25%%)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    with tempfile.TemporaryDirectory(prefix="backstop-bench-") as tmp:
        settings = Settings(data_dir=Path(tmp), secret_key="b" * 48)
        migrate(settings.db_path)
        queue.configure(settings)
        consumer = queue.start_consumer(settings.jobs_workers)
        latencies = []
        try:
            for sample in range(args.samples):
                time.sleep(args.idle * random.uniform(0.75, 1.25))
                enqueued = time.perf_counter()
                note_start(sample)
                with arrived:
                    if not arrived.wait_for(lambda s=sample: s in started, timeout=30):
                        raise SystemExit(f"sample {sample} did not start within 30 s")
                latencies.append(started[sample] - enqueued)
        finally:
            queue.stop_consumer(consumer)

    ms = sorted(x * 1000 for x in latencies)
    p90 = ms[max(0, round(0.9 * len(ms)) - 1)]
    print(f"{len(ms)} samples, {settings.jobs_workers} workers, idle {args.idle:g} s before each")
    print(
        f"enqueue-to-start: median {statistics.median(ms):.0f} ms, p90 {p90:.0f} ms, "
        f"min {ms[0]:.0f} ms, max {ms[-1]:.0f} ms (target about {TARGET_S * 1000:.0f} ms)"
    )


if __name__ == "__main__":
    main()
