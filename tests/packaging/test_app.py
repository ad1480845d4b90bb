"""The PyInstaller app: build it from a clean virtualenv, then run what a user would run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port
from tests.packaging.conftest import ROOT, port_is_open, wait_healthy

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def app(tmp_path_factory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    # PyInstaller's work folder is a cache: kept between runs, rebuilds reuse its analysis.
    work = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "backstop-build" / "pyinstaller"
    build = subprocess.run(
        [sys.executable, str(ROOT / "packaging" / "build_app.py"), "--dist", str(dist), "--work", str(work)],
        capture_output=True,
        text=True,
        check=False,
        timeout=1800,
    )
    assert build.returncode == 0, build.stderr[-6000:]
    executable = dist / "Backstop" / "Backstop"
    assert executable.exists()
    return executable


def test_the_bundle_carries_the_templates_and_static_files_and_no_test_tools(app):
    internal = app.parent / "_internal"
    assert (internal / "ui" / "templates" / "admin" / "overview.html").exists()
    assert (internal / "ui" / "static" / "admin.css").exists()
    for test_tool in ("pytest", "_pytest", "playwright", "moto", "schemathesis"):
        assert not (internal / test_tool).exists(), f"{test_tool} was bundled"


def test_the_bundle_takes_the_web_view_from_the_system_and_stays_under_150_mb(app):
    internal = app.parent / "_internal"
    names = {path.name for path in internal.rglob("*")}
    # WebKitGTK, GTK, GLib and their typelibs come from the system (packaging/linux/debian-depends).
    for system_part in ("libwebkit2gtk-4.1.so.0", "libgtk-3.so.0", "libglib-2.0.so.0", "Gtk-3.0.typelib"):
        assert system_part not in names, f"{system_part} was bundled"
    assert not any(name.startswith(("libQt6", "PySide6")) for name in names), "Qt was bundled"
    assert (internal / "gi").is_dir() and (internal / "webview").is_dir()
    # botocore keeps only the API models of the services Backstop calls.
    assert sorted(p.name for p in (internal / "botocore" / "data").iterdir() if p.is_dir()) == [
        "ses",
        "sesv2",
        "sso",
        "sso-oidc",
        "sts",
    ]
    size = sum(f.stat().st_size for f in app.parent.rglob("*") if f.is_file() and not f.is_symlink())
    assert size < 150_000_000, f"the bundle is {size / 1e6:.0f} MB"


def test_the_app_serves_headless_and_stops_on_sigterm(app, tmp_path):
    port = free_port()
    data = tmp_path / "data"
    env = {**os.environ, "BACKSTOP_DATA_DIR": str(data), "BACKSTOP_PORT": str(port)}
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen([str(app), "serve"], env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_healthy(
                f"http://127.0.0.1:{port}",
                timeout=60,
                alive=lambda: process.poll() is None,
                describe=log.read_text,
            )
            assert httpx.get(f"http://127.0.0.1:{port}/healthz").json() == {"status": "ok"}
            # Pages render from the bundled templates, static files come from the bundle too.
            setup = httpx.get(f"http://127.0.0.1:{port}/setup")
            assert setup.status_code == 200
            assert "<title>Set up Backstop · Backstop</title>" in setup.text
            assert httpx.get(f"http://127.0.0.1:{port}/static/admin.css").status_code == 200
            assert httpx.get(f"http://127.0.0.1:{port}/api/v1/openapi.json").status_code == 200
        finally:
            process.send_signal(signal.SIGTERM)
            code = process.wait(timeout=30)
    assert code == 0, log.read_text()[-3000:]
    assert not port_is_open(port)
    assert (data / "backstop.db").exists()


def test_the_app_runs_the_other_commands(app, tmp_path):
    env = {**os.environ, "BACKSTOP_DATA_DIR": str(tmp_path / "data")}
    created = subprocess.run(
        [str(app), "workspace", "create", "--name", "Acme Analytics", "--slug", "acme", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert json.loads(created.stdout)["slug"] == "acme"


def test_the_app_opens_the_desktop_window_signed_in(app, tmp_path, xvfb_display):
    data = tmp_path / "data"
    env = {
        **os.environ,
        "BACKSTOP_DATA_DIR": str(data),
        "DISPLAY": xvfb_display,
        "QTWEBENGINE_CHROMIUM_FLAGS": "--no-sandbox --disable-gpu",
    }
    subprocess.run(
        [str(app), "admin", "create", "--email", "olivia@acme.test", "--password-stdin"],
        input="olivia-owns-the-shop\n",
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    subprocess.run(
        [str(app), "workspace", "create", "--name", "Acme Analytics", "--slug", "acme"],
        env=env,
        capture_output=True,
        check=True,
        timeout=60,
    )
    probe = tmp_path / "pages.jsonl"
    log = tmp_path / "desktop.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(app), "desktop", "--probe", str(probe)], env=env, stdout=out, stderr=subprocess.STDOUT
        )
        try:
            deadline = time.monotonic() + 60
            while not (probe.exists() and "/w/acme/overview" in probe.read_text()):
                assert process.poll() is None, log.read_text()[-4000:]
                assert time.monotonic() < deadline, log.read_text()[-4000:]
                time.sleep(0.1)
        finally:
            process.send_signal(signal.SIGTERM)
            code = process.wait(timeout=30)
    page = json.loads(probe.read_text().splitlines()[-1])
    assert page["heading"] == "Overview"
    assert "with the gtk web view" in log.read_text()
    assert code == 0, log.read_text()[-3000:]
