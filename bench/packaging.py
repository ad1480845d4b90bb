"""How the three ways of shipping Backstop measure up.

    .venv/bin/python bench/packaging.py [--runs 3] [--skip desktop,desktop-qt,app,image]

Prints, against the targets:
- desktop: from starting `backstop desktop` to the first page loaded in the window (the Overview,
  signed in), under Xvfb, on the system's WebKitGTK; then the same with the Qt fallback
  (`--gui qt`) for comparison; median of --runs launches each;
- PyInstaller app: the one-folder bundle's size on disk and as a .tar.gz, from starting
  `Backstop serve` to GET /healthz = 200 (median of --runs starts, fresh data dir each time;
  the bundle's files are in the page cache after the first run, as on a user's machine), and the
  bundle's own first paint as above;
- image: its size as podman reports it (uncompressed layers) and as a gzip'd `podman save`, and
  from `podman run` to GET /healthz = 200 (median of --runs containers).

Builds use the same scripts and caches as the tests (packaging/build_app.py, build_image.py).
A report, not a test: nothing here fails on a missed target.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
PODMAN = ["podman", "--storage-driver", "overlay"]
RUNTIME = ["--cgroup-manager", "cgroupfs", "--runtime", "runc"]
RUN_FLAGS = ["--network", "host", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]
TARGETS = {"first_paint_s": 3.0, "bundle_mb": 150.0, "image_mb": 200.0}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BACKSTOP_")}
    env.update(extra)
    return env


class CountingWriter:
    def __init__(self) -> None:
        self.size = 0

    def write(self, data: bytes) -> int:
        self.size += len(data)
        return len(data)

    def flush(self) -> None:
        pass


def gzipped_tar_size(folder: Path) -> int:
    counter = CountingWriter()
    with (
        gzip.GzipFile(fileobj=counter, mode="wb", compresslevel=6) as gz,
        tarfile.open(fileobj=gz, mode="w") as tar,
    ):
        tar.add(folder, arcname=folder.name)
    return counter.size


def folder_size(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file() and not f.is_symlink())


def start_xvfb() -> tuple[subprocess.Popen, str]:
    read_fd, write_fd = os.pipe()
    xvfb = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1280x900x24", "-nolisten", "tcp"],
        pass_fds=(write_fd,),
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        return xvfb, ":" + pipe.readline().strip()


def first_paints(command: list, runs: int, options: tuple[str, ...] = ()) -> list[float]:
    """Seconds from starting `command desktop` to the signed-in Overview loaded in its window."""
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        env = clean_env(BACKSTOP_DATA_DIR=str(data))
        subprocess.run(
            [*command, "admin", "create", "--email", "olivia@acme.test", "--password-stdin"],
            input="olivia-owns-the-shop\n",
            text=True,
            env=env,
            check=True,
            capture_output=True,
        )
        subprocess.run(
            [*command, "workspace", "create", "--name", "Acme", "--slug", "acme"],
            env=env,
            check=True,
            capture_output=True,
        )
        xvfb, display = start_xvfb()
        times = []
        try:
            for run in range(runs):
                probe = Path(tmp) / f"probe-{run}.jsonl"
                started = time.time()
                process = subprocess.Popen(
                    [*command, "desktop", *options, "--probe", str(probe)],
                    env={
                        **env,
                        "DISPLAY": display,
                        "QTWEBENGINE_CHROMIUM_FLAGS": "--no-sandbox --disable-gpu",
                    },
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                deadline = time.monotonic() + 60
                while not probe.exists() or not probe.read_text().strip():
                    if time.monotonic() > deadline or process.poll() is not None:
                        raise SystemExit(f"{command} desktop never loaded a page")
                    time.sleep(0.01)
                first = json.loads(probe.read_text().splitlines()[0])
                assert "/w/acme/overview" in first["href"], first
                times.append(first["at"] - started)
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=30)
        finally:
            xvfb.terminate()
            xvfb.wait()
    return times


def bench_desktop(runs: int) -> dict:
    gtk = first_paints([VENV_BIN / "backstop"], runs)
    return {"first_paint_s": statistics.median(gtk), "first_paint_runs_s": gtk}


def bench_desktop_qt(runs: int) -> dict:
    qt = first_paints([VENV_BIN / "backstop"], runs, ("--gui", "qt"))
    return {"first_paint_qt_s": statistics.median(qt), "first_paint_qt_runs_s": qt}


def bench_app(runs: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        dist = Path(tmp) / "dist"
        work = Path.home() / ".cache" / "backstop-build" / "pyinstaller"
        started = time.monotonic()
        subprocess.run(
            [sys.executable, ROOT / "packaging" / "build_app.py", "--dist", dist, "--work", work],
            check=True,
            capture_output=True,
        )
        build_s = time.monotonic() - started
        app = dist / "Backstop"
        times = []
        for run in range(runs):
            port = free_port()
            env = clean_env(BACKSTOP_DATA_DIR=str(Path(tmp) / f"data-{run}"), BACKSTOP_PORT=str(port))
            started = time.monotonic()
            process = subprocess.Popen(
                [app / "Backstop", "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            while True:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if process.poll() is not None or time.monotonic() - started > 60:
                    raise SystemExit("the packaged app did not become healthy")
                time.sleep(0.01)
            times.append(time.monotonic() - started)
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
        paints = first_paints([app / "Backstop"], runs)
        return {
            "app_first_paint_s": statistics.median(paints),
            "app_first_paint_runs_s": paints,
            "bundle_mb": folder_size(app) / 1e6,
            "bundle_targz_mb": gzipped_tar_size(app) / 1e6,
            "app_build_s": build_s,
            "start_to_healthy_s": statistics.median(times),
            "start_to_healthy_runs_s": times,
        }


def bench_image(runs: int) -> dict:
    tag = "localhost/backstop:bench"
    started = time.monotonic()
    subprocess.run(
        [sys.executable, ROOT / "packaging" / "build_image.py", "--tag", tag], check=True, capture_output=True
    )
    build_s = time.monotonic() - started
    size = int(subprocess.check_output([*PODMAN, "image", "inspect", "--format", "{{.Size}}", tag]))
    counter = CountingWriter()
    with (
        subprocess.Popen(
            [*PODMAN, "save", "--format", "docker-archive", tag], stdout=subprocess.PIPE
        ) as save,
        gzip.GzipFile(fileobj=counter, mode="wb", compresslevel=6) as gz,
    ):
        while chunk := save.stdout.read(1 << 20):
            gz.write(chunk)
    times = []
    for run in range(runs):
        port = free_port()
        name = f"backstop-bench-{os.getpid()}-{run}"
        started = time.monotonic()
        subprocess.run(
            [
                *PODMAN,
                *RUNTIME,
                "run",
                "--detach",
                "--name",
                name,
                *RUN_FLAGS,
                "--env",
                f"BACKSTOP_PORT={port}",
                tag,
            ],
            check=True,
            capture_output=True,
        )
        try:
            times.append(wait_healthy(port, started))
        finally:
            subprocess.run([*PODMAN, *RUNTIME, "rm", "--force", "--time", "5", name], capture_output=True)
    return {
        "image_mb": size / 1e6,
        "image_gzip_mb": counter.size / 1e6,
        "image_build_s": build_s,
        "image_start_to_healthy_s": statistics.median(times),
        "image_start_to_healthy_runs_s": times,
    }


def wait_healthy(port: int, started: float, process: subprocess.Popen | None = None) -> float:
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return time.monotonic() - started
        except httpx.HTTPError:
            pass
        if (process is not None and process.poll() is not None) or time.monotonic() - started > 60:
            raise SystemExit(f"nothing became healthy on port {port}")
        time.sleep(0.01)


def verdict(value: float, target: float) -> str:
    return "meets target" if value < target else "MISSES target"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--skip", default="", help="comma-separated: desktop, desktop-qt, app, image")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    results: dict = {}
    if "desktop" not in skip:
        results.update(bench_desktop(args.runs))
        print(
            f"desktop  launch -> first page in window  {results['first_paint_s']:.2f} s "
            f"(target < {TARGETS['first_paint_s']:.0f} s: {verdict(results['first_paint_s'], TARGETS['first_paint_s'])})"
            f"  runs: {', '.join(f'{t:.2f}' for t in results['first_paint_runs_s'])}"
        )
    if "desktop-qt" not in skip:
        results.update(bench_desktop_qt(args.runs))
        print(
            f"desktop  same, Qt fallback (--gui qt)   {results['first_paint_qt_s']:.2f} s"
            f"  runs: {', '.join(f'{t:.2f}' for t in results['first_paint_qt_runs_s'])}"
        )
    if "app" not in skip:
        results.update(bench_app(args.runs))
        print(
            f"app      bundle on disk  {results['bundle_mb']:.0f} MB "
            f"(target < {TARGETS['bundle_mb']:.0f} MB: {verdict(results['bundle_mb'], TARGETS['bundle_mb'])}); "
            f"as .tar.gz {results['bundle_targz_mb']:.0f} MB; built in {results['app_build_s']:.0f} s"
        )
        print(
            f"app      start -> /healthz 200  {results['start_to_healthy_s']:.2f} s"
            f"  runs: {', '.join(f'{t:.2f}' for t in results['start_to_healthy_runs_s'])}"
        )
        print(
            f"app      launch -> first page in window  {results['app_first_paint_s']:.2f} s "
            f"(target < {TARGETS['first_paint_s']:.0f} s: {verdict(results['app_first_paint_s'], TARGETS['first_paint_s'])})"
            f"  runs: {', '.join(f'{t:.2f}' for t in results['app_first_paint_runs_s'])}"
        )
    if "image" not in skip:
        results.update(bench_image(args.runs))
        print(
            f"image    size  {results['image_mb']:.0f} MB "
            f"(target < {TARGETS['image_mb']:.0f} MB: {verdict(results['image_mb'], TARGETS['image_mb'])}); "
            f"gzip'd save {results['image_gzip_mb']:.0f} MB; built in {results['image_build_s']:.0f} s"
        )
        print(
            f"image    podman run -> /healthz 200  {results['image_start_to_healthy_s']:.2f} s"
            f"  runs: {', '.join(f'{t:.2f}' for t in results['image_start_to_healthy_runs_s'])}"
        )
    print(json.dumps(results, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
