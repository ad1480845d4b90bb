"""Trim the image's virtualenv to what `backstop serve` uses, in the Dockerfile's build stage.

    /opt/backstop/bin/python packaging/slim_venv.py /opt/backstop            # build stage
    /opt/backstop/bin/python slim_venv.py --stdlib /opt/backstop             # final stage

1. botocore ships the API models of every AWS service (about 29 MB); Backstop talks to SES v2
   only, and credentials may come through STS or SSO. The other services' models go.
2. Bytecode: the image runs as a user who can't write to /opt, so nothing is ever cached there
   at run time. Every `__pycache__` is removed, then `backstop serve` is started once on
   loopback (answering /healthz and /setup) and every capability module of the manifest and
   boto3's SES client are imported, so that Python writes exactly their .pyc files: a start
   loads those from disk, and a module first imported later (a rarely used code path) is
   compiled in memory instead. With --stdlib (in the final stage, right after Debian's python3
   is installed) the same is done for the standard library, which that package compiles whole.
   The image keeps about 21 MB of bytecode instead of 56 MB.
3. The compiled extensions in the wheels (cryptography's Rust core, PyYAML, multidict, ...)
   carry their symbol tables; ``strip --strip-unneeded`` (binutils, in the build stage only)
   removes them, about 7 MB. Python never reads them; a native crash's backtrace shows addresses
   instead of function names in those modules.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.request
from pathlib import Path

# botocore's data folders kept; the top-level JSON files beside them (endpoints, partitions,
# retry rules, default configuration) are always kept.
BOTOCORE_SERVICES = {"sesv2", "ses", "sts", "sso", "sso-oidc"}

WARM_UP = """
import boto3
import backstop.cli
import backstop.server
from backstop import manifest

manifest.load()
boto3.client("sesv2", region_name="us-east-1")
"""


def site_packages(venv: Path) -> Path:
    found = sorted(venv.glob("lib/python3*/site-packages"))
    if len(found) != 1:
        raise SystemExit(f"expected one site-packages under {venv}, found {found}")
    return found[0]


def trim_botocore(packages: Path) -> int:
    data = packages / "botocore" / "data"
    removed = 0
    for entry in data.iterdir():
        if entry.is_dir() and entry.name not in BOTOCORE_SERVICES:
            shutil.rmtree(entry)
            removed += 1
    missing = BOTOCORE_SERVICES - {p.name for p in data.iterdir() if p.is_dir()}
    if missing:
        raise SystemExit(f"botocore has no model for {sorted(missing)}")
    return removed


def strip_extensions(packages: Path) -> int:
    strip = shutil.which("strip")
    if strip is None:
        raise SystemExit("strip (binutils) is needed to build the image")
    before = sum(f.stat().st_size for f in packages.rglob("*.so"))
    libraries = [str(f) for f in packages.rglob("*.so") if f.is_file() and not f.is_symlink()]
    subprocess.run([strip, "--strip-unneeded", *libraries], check=True)
    return before - sum(f.stat().st_size for f in packages.rglob("*.so"))


def drop_bytecode(venv: Path) -> None:
    for cache in list(venv.rglob("__pycache__")):
        shutil.rmtree(cache)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def warm_up(venv: Path) -> None:
    """Start the real server once (and make boto3's SES client), so that exactly the modules a
    start imports get their .pyc written."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    with tempfile.TemporaryDirectory() as data:
        env.update(BACKSTOP_DATA_DIR=data, BACKSTOP_HOST="127.0.0.1", BACKSTOP_PORT=str(port))
        subprocess.run([str(venv / "bin" / "python"), "-c", WARM_UP], env=env, check=True, cwd=data)
        server = subprocess.Popen([str(venv / "bin" / "backstop"), "serve"], env=env, cwd=data)
        try:
            deadline = time.monotonic() + 60
            while not answers(f"http://127.0.0.1:{port}/healthz"):
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("backstop serve did not start during the warm-up")
                time.sleep(0.2)
            answers(f"http://127.0.0.1:{port}/setup")
        finally:
            server.send_signal(signal.SIGINT)
            server.wait(timeout=60)


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback only
            return response.status == 200
    except OSError:
        return False


def main() -> int:
    args = sys.argv[1:]
    stdlib = "--stdlib" in args
    args = [a for a in args if a != "--stdlib"]
    venv = Path(args[0] if args else "/opt/backstop")
    if stdlib:
        drop_bytecode(Path(sysconfig.get_paths()["stdlib"]))
        warm_up(venv)
        print("slim_venv: kept bytecode for the standard library modules a start imports")
        return 0
    packages = site_packages(venv)
    removed = trim_botocore(packages)
    stripped = strip_extensions(packages)
    drop_bytecode(venv)
    warm_up(venv)
    kept = sum(1 for _ in venv.rglob("*.pyc"))
    print(
        f"slim_venv: dropped {removed} botocore service models, stripped {stripped / 1e6:.1f} MB "
        f"of symbols, kept {kept} compiled modules"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
