"""How long `backstop serve` takes to answer /healthz, and how much memory it holds when idle.

Spawns the real command on a free loopback port, polls /healthz until it answers 200, and times
that from the moment the process was started. The first run starts on an empty data directory
(secret key, migrations); the others restart on the same one, as after a reboot or an upgrade.
After the last start it waits a few idle seconds and reads the resident memory (VmRSS) from
/proc. Targets: ready in under 1.5 s, idle RSS under 120 MB.

    .venv/bin/python bench/startup.py [--runs 5] [--idle 5]
"""

from __future__ import annotations

import argparse
import http.client
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

READY_TARGET_S = 1.5
RSS_TARGET_MB = 120


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def healthy(port: int) -> bool:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
    try:
        conn.request("GET", "/healthz")
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


def memory_mb(pid: int) -> dict[str, float]:
    """VmRSS (now) and VmHWM (peak) of a process, in MB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return values


def start(command: list[str], data_dir: Path, timeout: float = 30) -> tuple[subprocess.Popen, int, float]:
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("BACKSTOP_")},
        "BACKSTOP_DATA_DIR": str(data_dir),
        "BACKSTOP_PORT": str(port),
        "BACKSTOP_HOST": "127.0.0.1",
        "BACKSTOP_LOG_LEVEL": "warning",
    }
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    while time.perf_counter() - started < timeout:
        if process.poll() is not None:
            raise SystemExit(
                f"backstop serve exited with {process.returncode}:\n{process.stderr.read().decode()}"
            )
        if healthy(port):
            return process, port, time.perf_counter() - started
        time.sleep(0.005)
    process.kill()
    raise SystemExit(f"backstop serve did not answer /healthz within {timeout} s")


def stop(process: subprocess.Popen) -> float:
    began = time.perf_counter()
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="starts to time (the first on an empty data dir)")
    parser.add_argument("--idle", type=float, default=5.0, help="idle seconds before reading the RSS")
    parser.add_argument(
        "--command",
        nargs="+",
        default=[str(Path(sys.executable).parent / "backstop"), "serve"],
        help="the command that serves (default: the backstop script beside this Python)",
    )
    args = parser.parse_args()

    print(f"command: {' '.join(args.command)}")
    with tempfile.TemporaryDirectory(prefix="backstop-bench-") as tmp:
        data_dir = Path(tmp)
        timings = []
        for run in range(1, args.runs + 1):
            process, port, ready = start(args.command, data_dir)
            last = run == args.runs
            if last:
                time.sleep(args.idle)
                assert healthy(port), "the server stopped answering while idle"
                memory = memory_mb(process.pid)
            stopped = stop(process)
            timings.append(ready)
            kind = "first start, empty data dir" if run == 1 else "restart"
            print(
                f"run {run}: ready in {ready:.3f} s ({kind}); stopped in {stopped:.3f} s, exit {process.returncode}"
            )

    restarts = timings[1:] or timings
    print()
    print(
        f"ready: first start {timings[0]:.3f} s; restarts median {statistics.median(restarts):.3f} s, "
        f"min {min(restarts):.3f} s, max {max(restarts):.3f} s (target < {READY_TARGET_S} s)"
    )
    print(
        f"idle RSS after {args.idle:g} s: {memory['VmRSS']:.1f} MB; peak {memory['VmHWM']:.1f} MB "
        f"(target < {RSS_TARGET_MB} MB)"
    )
    over = max(timings) >= READY_TARGET_S or memory["VmRSS"] >= RSS_TARGET_MB
    print("over target" if over else "within targets")


if __name__ == "__main__":
    main()
