"""Helpers for the packaging tests: required tools, a virtual X screen, waiting for health."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent


def need(tool: str) -> str:
    """The path of a tool the test drives; a missing one fails the test, it never skips it."""
    path = shutil.which(tool, path=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    if path is None:
        pytest.fail(f"{tool} is not installed; scripts/bootstrap --dev installs it.", pytrace=False)
    return path


def wait_healthy(url: str, timeout: float, alive=lambda: True, describe=lambda: "") -> float:
    """Poll GET url/healthz until it answers 200; return the seconds it took."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if not alive():
            pytest.fail(f"the server exited before it became healthy:\n{describe()}", pytrace=False)
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return time.monotonic() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    pytest.fail(f"{url}/healthz did not answer 200 within {timeout:.0f} s:\n{describe()}", pytrace=False)


def port_is_open(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def xvfb_display() -> Iterator[str]:
    """A private virtual X screen; -displayfd lets Xvfb pick a display number nobody uses."""
    xvfb = need("Xvfb")
    read_fd, write_fd = os.pipe()
    process = subprocess.Popen(
        [xvfb, "-displayfd", str(write_fd), "-screen", "0", "1280x900x24", "-nolisten", "tcp"],
        pass_fds=(write_fd,),
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        number = pipe.readline().strip()
    if not number:
        process.kill()
        pytest.fail("Xvfb did not start", pytrace=False)
    try:
        yield f":{number}"
    finally:
        process.terminate()
        process.wait(timeout=10)
