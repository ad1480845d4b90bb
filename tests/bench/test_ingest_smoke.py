"""The ingest bench as a regression guard: a short run through a real `backstop serve` (and the
bare ceiling app beside it) must acknowledge every signed event, store each exactly once and
process them all. Its speed is never judged here; `bench/stripe_ingest.py` prints that."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EVENTS = 400


def test_a_short_ingest_run_loses_and_doubles_no_event():
    result = subprocess.run(
        [
            sys.executable,
            "bench/stripe_ingest.py",
            "--events",
            str(EVENTS),
            "--processes",
            "2",
            "--connections",
            "4",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    for name in ("ceiling", "Backstop"):
        line = next(line for line in result.stdout.splitlines() if line.strip().startswith(f"{name}:"))
        assert "failures 0" in line, line
        assert f"stored {EVENTS} rows, {EVENTS} distinct" in line, line
    assert re.search(rf"drained [\d.]+ s after the last 200; processed {EVENTS}\b", result.stdout), output
    assert re.search(r"Backstop / ceiling, median of the rounds: \d+%", result.stdout), output
