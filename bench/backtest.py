"""The policy backtest over 10,000 failed invoices: reading the snapshot, then replaying it.

A temporary database gets N failed subscription invoices (the ten kinds of history the tests
use, from ``tests/builders.py``: Stripe's events in the mirror, Backstop's campaigns and
attempts), then we time what ``backstop recovery backtest --policy FILE`` and the Retry policy
page's preview do: read the evidence of the last 90 days into a frozen snapshot, and replay it
under the saved policy and a draft. Target: < 2 s for the whole backtest of 10,000 invoices.

    .venv/bin/python bench/backtest.py
    .venv/bin/python bench/backtest.py --invoices 10000 --runs 5
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from backstop import clock, manifest  # noqa: E402
from backstop.db import connect, migrate, write_transaction  # noqa: E402
from backstop.recovery import backtest  # noqa: E402
from backstop.recovery.policy import RetryPolicy, policy_from_document  # noqa: E402
from tests.builders import BACKTEST_DRAFT, put_backtest_history  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--invoices", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    manifest.load()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "backstop.db"
        migrate(path)
        db = connect(path)
        db.execute(
            "INSERT INTO workspaces (name, slug, embed_secret_enc, created_at) VALUES ('Bench', 'bench', 'x', ?)",
            [clock.iso()],
        )
        workspace_id = db.execute("SELECT id FROM workspaces WHERE slug = 'bench'").fetchone()[0]
        now = clock.now()
        started = time.perf_counter()
        with write_transaction(db):
            put_backtest_history(db, workspace_id, now, args.invoices)
        print(f"built {args.invoices:,} failed invoices in {time.perf_counter() - started:.1f} s")
        saved, draft = RetryPolicy(), policy_from_document(RetryPolicy(), BACKTEST_DRAFT)
        loads, replays, totals, cpu = [], [], [], []
        for _ in range(args.runs):
            c0 = time.process_time()
            t0 = time.perf_counter()
            snapshot = backtest.load_snapshot(db, workspace_id, 90, now)
            t1 = time.perf_counter()
            comparison = backtest.compare(snapshot, saved, draft)
            t2 = time.perf_counter()
            cpu.append(time.process_time() - c0)
            loads.append(t1 - t0)
            replays.append(t2 - t1)
            totals.append(t2 - t0)
        print(f"invoices in the snapshot: {len(snapshot.invoices):,}")
        for label, values in (
            ("read snapshot", loads),
            ("replay 2 policies", replays),
            ("backtest total", totals),
        ):
            print(
                f"{label:>18}: median {statistics.median(values):.3f} s, worst {max(values):.3f} s ({args.runs} runs)"
            )
        # CPU time is what the backtest costs on a quiet machine; wall time grows with other load.
        print(f"{'backtest CPU time':>18}: median {statistics.median(cpu):.3f} s")
        print(f"target: backtest total < 2 s for 10,000 invoices -> median {statistics.median(totals):.3f} s")
        print()
        print(f"{'':<58} {'Saved policy':>18} {'Draft':>18}")
        for row in backtest.summary_rows(comparison):
            print(f"{row['label']:<58} {row['values'][0]:>18} {row['values'][1]:>18}")
        db.conn.close()


if __name__ == "__main__":
    main()
