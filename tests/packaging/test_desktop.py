"""`backstop desktop` for real: the system's WebKitGTK (and Qt's web engine, the fallback) on a
virtual X screen, the server in-process.

The window reports each page it finished loading to a --probe file (the DOM read through the web
view). It is closed the way a window manager closes it: a WM_DELETE_WINDOW message.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.conftest import OLIVIA_PASSWORD, ROOT, VENV_BIN, start_live_server
from tests.packaging.conftest import need, port_is_open

pytestmark = pytest.mark.slow

ARTIFACTS = ROOT / "test-artifacts"


def backstop(*args: str, data_dir: Path, stdin: str | None = None) -> str:
    env = {**os.environ, "BACKSTOP_DATA_DIR": str(data_dir)}
    done = subprocess.run(
        [str(VENV_BIN / "backstop"), *args], input=stdin, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


class Desktop:
    """A running `backstop desktop` and what its window has shown so far."""

    def __init__(self, args: list[str], display: str, tmp_path: Path) -> None:
        self.display = display
        self.probe = tmp_path / "pages.jsonl"
        self.log = tmp_path / "desktop.log"
        env = {
            **os.environ,
            "DISPLAY": display,
            "QTWEBENGINE_CHROMIUM_FLAGS": "--no-sandbox --disable-gpu",
        }
        env.pop("BACKSTOP_DATA_DIR", None)
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [str(VENV_BIN / "backstop"), "desktop", "--probe", str(self.probe), *args],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def pages(self) -> list[dict]:
        if not self.probe.exists():
            return []
        return [json.loads(line) for line in self.probe.read_text().splitlines() if line.endswith("}")]

    def wait_for_page(self, path: str, timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for page in self.pages():
                if urlsplit(page["href"]).path == path:
                    return page
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        pytest.fail(
            f"the window never showed {path}; it showed {self.pages()}\n{self.output()}", pytrace=False
        )

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        shot = ARTIFACTS / name
        subprocess.run(
            [need("import"), "-display", self.display, "-window", "root", str(shot)], check=True, timeout=30
        )
        return shot

    def close_window(self) -> None:
        """Ask the window to close, as the close button in a window manager's title bar does."""
        from Xlib import X, display, protocol

        screen = display.Display(self.display)
        try:
            wm_protocols = screen.intern_atom("WM_PROTOCOLS")
            wm_delete = screen.intern_atom("WM_DELETE_WINDOW")
            closed = 0
            for window in screen.screen().root.query_tree().children:
                name = window.get_wm_name() or ""
                if "Backstop" in str(name) and wm_delete in (window.get_wm_protocols() or []):
                    message = protocol.event.ClientMessage(
                        window=window,
                        client_type=wm_protocols,
                        data=(32, [wm_delete, X.CurrentTime, 0, 0, 0]),
                    )
                    window.send_event(message, event_mask=X.NoEventMask)
                    closed += 1
            screen.flush()
        finally:
            screen.close()
        assert closed == 1, "expected exactly one Backstop window"

    def wait_exit(self, timeout: float = 30) -> int:
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            pytest.fail(
                f"backstop desktop did not exit after its window closed\n{self.output()}", pytrace=False
            )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def desktops(xvfb_display, tmp_path):
    started: list[Desktop] = []

    def start(*args: str) -> Desktop:
        desktop = Desktop(list(args), xvfb_display, tmp_path)
        started.append(desktop)
        return desktop

    yield start
    for desktop in started:
        desktop.stop()


def colours_in(image: Path) -> int:
    return int(subprocess.check_output([need("identify"), "-format", "%k", str(image)], timeout=30))


def test_it_opens_the_overview_signed_in_and_stops_everything_when_closed(desktops, tmp_path):
    need("Xvfb")
    data = tmp_path / "data"
    backstop(
        "admin",
        "create",
        "--email",
        "olivia@acme.test",
        "--password-stdin",
        data_dir=data,
        stdin=OLIVIA_PASSWORD,
    )
    backstop("workspace", "create", "--name", "Acme Analytics", "--slug", "acme", data_dir=data)

    desktop = desktops("--data-dir", str(data))
    page = desktop.wait_for_page("/w/acme/overview")
    assert page["heading"] == "Overview"
    assert page["title"].startswith("Overview — Acme Analytics")
    assert "with the gtk web view" in desktop.output()
    # The sign-in link went straight to the Overview: no login form in between.
    assert [urlsplit(p["href"]).path for p in desktop.pages()] == ["/w/acme/overview"]
    port = urlsplit(page["href"]).port
    assert urlsplit(page["href"]).hostname == "127.0.0.1"
    assert port_is_open(port)

    shot = desktop.screenshot("desktop-overview.png")
    assert colours_in(shot) > 50, "the screenshot looks blank"

    desktop.close_window()
    assert desktop.wait_exit() == 0, desktop.output()
    assert not port_is_open(port)
    output = desktop.output()
    assert "Application shutdown complete" in output
    assert "jobs consumer stopped" in output

    # The one-time token was spent, and only its hash was ever stored.
    import sqlite3

    with sqlite3.connect(data / "backstop.db") as db:
        rows = db.execute("SELECT token_hash, used_at FROM login_tokens").fetchall()
    assert len(rows) == 1 and rows[0][1] is not None
    assert len(rows[0][0]) == 64


def test_before_setup_it_opens_the_setup_page_and_stops_on_sigterm(desktops, tmp_path):
    desktop = desktops("--data-dir", str(tmp_path / "fresh"))
    page = desktop.wait_for_page("/setup")
    assert "create the owner account" in page["heading"]
    port = urlsplit(page["href"]).port
    desktop.process.send_signal(signal.SIGTERM)
    assert desktop.wait_exit() == 0, desktop.output()
    assert not port_is_open(port)


def test_with_url_it_shows_a_remote_instance_and_runs_no_server(desktops, tmp_path):
    remote_data = tmp_path / "remote"
    remote_data.mkdir()
    remote = start_live_server(remote_data)
    try:
        local = tmp_path / "local"
        desktop = desktops("--url", remote.url, "--data-dir", str(local))
        page = desktop.wait_for_page("/setup")
        assert page["href"].startswith(remote.url + "/")
        desktop.close_window()
        assert desktop.wait_exit() == 0, desktop.output()
    finally:
        remote.stop()
    assert not (local / "backstop.db").exists()
    assert (local / "window-profile").is_dir()
    assert "Uvicorn running" not in desktop.output()


def test_the_qt_fallback_opens_the_overview_signed_in_too(desktops, tmp_path):
    data = tmp_path / "data"
    backstop(
        "admin",
        "create",
        "--email",
        "olivia@acme.test",
        "--password-stdin",
        data_dir=data,
        stdin=OLIVIA_PASSWORD,
    )
    backstop("workspace", "create", "--name", "Acme Analytics", "--slug", "acme", data_dir=data)
    desktop = desktops("--gui", "qt", "--data-dir", str(data))
    page = desktop.wait_for_page("/w/acme/overview", timeout=60)
    assert page["heading"] == "Overview"
    assert "with the qt web view" in desktop.output()
    desktop.close_window()
    assert desktop.wait_exit() == 0, desktop.output()
