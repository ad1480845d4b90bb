"""How long `backstop demo` takes from the command to a page full of data.

Spawns the real command on a free loopback port with a fresh data folder, reads its `Open:` line,
follows the one-time sign-in link and loads the Overview, and stops the clock when that page
shows the year's numbers (the recovered-revenue trend and the decline mix). Target: under 5 s.

    .venv/bin/python bench/demo_start.py [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

TARGET_S = 5.0
ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def one_run() -> float:
    with tempfile.TemporaryDirectory() as tmp:
        began = time.monotonic()
        process = subprocess.Popen(
            [sys.executable, "-c", "from backstop.cli import main; main()", "demo",
             "--port", str(free_port()), "--data-dir", str(Path(tmp) / "demo-data")],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT,
            env={k: v for k, v in os.environ.items() if not k.startswith("BACKSTOP_")},
        )  # fmt: skip
        try:
            url = None
            for line in process.stdout:
                if line.startswith("Open: "):
                    url = line.removeprefix("Open: ").strip()
                    break
            if url is None:
                raise SystemExit("backstop demo exited without printing its Open: line")
            with httpx.Client(follow_redirects=True, timeout=10) as client:
                page = client.get(url)
                full = (
                    page.status_code == 200 and 'class="trend-bar"' in page.text and "bar-chart" in page.text
                )
            elapsed = time.monotonic() - began
            if not full:
                raise SystemExit(
                    f"the Overview didn't show the demo's numbers ({page.status_code} {page.url})"
                )
            return elapsed
        finally:
            process.terminate()
            process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    times = [one_run() for _ in range(args.runs)]
    for n, t in enumerate(times, 1):
        print(f"run {n}: {t:.2f} s from `backstop demo` to the Overview full of data")
    median = statistics.median(times)
    verdict = "within" if median < TARGET_S else "OVER"
    print(f"median {median:.2f} s ({verdict} the {TARGET_S:.0f} s target)")


if __name__ == "__main__":
    main()
