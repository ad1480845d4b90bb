"""Shared fixtures: settings on a temp data dir, a migrated db, an in-process client, a real
server in a subprocess, and named personas."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from litestar.testing import TestClient
from sqlite_utils import Database

from backstop.db import connect, migrate
from backstop.lib.crypto import SecretBox
from backstop.settings import Settings
from backstop.workspaces.admins import Admin, create_admin
from backstop.workspaces.workspaces import Workspace, create_workspace

# Fixtures that start the project's fake Stripe server live with it.
pytest_plugins = ["tests.fake_stripe.plugin"]

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
OLIVIA_PASSWORD = "olivia-owns-the-shop"
MARCO_PASSWORD = "marco-helps-with-support"

# The suite must not pick up a developer's own configuration.
for _name in [n for n in os.environ if n.startswith("BACKSTOP_")]:
    del os.environ[_name]


@pytest.fixture(autouse=True, scope="session")
def capabilities() -> None:
    """The tests load the capability manifest the way the server and the CLI do."""
    from backstop import manifest

    manifest.load()


@pytest.fixture
def fast_password_hashing(monkeypatch):
    """Argon2 at production strength costs ~0.1 s a hash; tests that sign in hundreds of times
    use the same algorithm with tiny costs."""
    from argon2 import PasswordHasher

    from backstop.lib import passwords

    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(passwords, "_hasher", cheap)
    monkeypatch.setattr(passwords, "DUMMY_HASH", cheap.hash("timing-equaliser"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture
def settings(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, secret_key="t" * 48, port=free_port())


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    migrate(settings.db_path)
    database = connect(settings.db_path)
    yield database
    database.conn.close()


@pytest.fixture
def box(settings: Settings) -> SecretBox:
    return SecretBox(settings.secret_key)


@dataclass
class Persona:
    admin: Admin
    password: str


@pytest.fixture
def olivia(db: Database) -> Persona:
    """Olivia: the founder who installed Backstop and owns the Acme workspace."""
    return Persona(create_admin(db, "olivia@acme.test", OLIVIA_PASSWORD), OLIVIA_PASSWORD)


@pytest.fixture
def marco(db: Database) -> Persona:
    """Marco: a support hire, no workspace until someone adds him."""
    return Persona(create_admin(db, "marco@acme.test", MARCO_PASSWORD), MARCO_PASSWORD)


@pytest.fixture
def acme(db: Database, box: SecretBox, olivia: Persona) -> Workspace:
    ws, _ = create_workspace(db, box, "Acme Analytics", olivia.admin, "acme")
    return ws


@pytest.fixture
def client(settings: Settings, db: Database) -> Iterator[TestClient]:
    """The app in-process with jobs run inline; cookies persist across requests."""
    from backstop.web.app import create_app

    app = create_app(settings, run_jobs=False)
    with TestClient(app=app, base_url="http://127.0.0.1") as c:
        yield c


CSRF_RE = re.compile(r'name="_csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "page has no CSRF token"
    return match.group(1)


def post_form(client: TestClient, page_url: str, action: str, data: dict) -> httpx.Response:
    """Submit a form the way a browser does: load the page for its CSRF token, then post."""
    page = client.get(page_url)
    return client.post(action, data={"_csrf_token": csrf_from(page.text), **data}, follow_redirects=False)


def login(client: TestClient, persona: Persona) -> None:
    response = post_form(
        client, "/login", "/login", {"email": persona.admin.email, "password": persona.password}
    )
    assert response.status_code in (302, 303), response.text


@dataclass
class LiveServer:
    url: str
    process: subprocess.Popen
    data_dir: Path
    env: dict

    def stop(self, sig: int = 15, timeout: float = 20) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def start_live_server(data_dir: Path, extra_env: dict | None = None) -> LiveServer:
    """`backstop serve` for real, in its own process, on a free loopback port."""
    port = free_port()
    env = {
        **os.environ,
        "BACKSTOP_DATA_DIR": str(data_dir),
        "BACKSTOP_PORT": str(port),
        "BACKSTOP_HOST": "127.0.0.1",
        **(extra_env or {}),
    }
    log = open(data_dir / "server.log", "wb")  # noqa: SIM115 - lives as long as the process
    process = subprocess.Popen(
        [str(VENV_BIN / "backstop"), "serve"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError((data_dir / "server.log").read_text())
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return LiveServer(url, process, data_dir, env)
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    process.kill()
    raise RuntimeError("server did not become healthy:\n" + (data_dir / "server.log").read_text())


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[LiveServer]:
    data_dir = tmp_path / "live-data"
    data_dir.mkdir()
    server = start_live_server(data_dir)
    yield server
    server.stop()


# -- the backstop command, run for real (tests/test_cli*.py) ------------------------------------

from backstop.workspaces import admins  # noqa: E402
from tests.builders import GOOD_PASSWORD, OLIVIA, Backstop  # noqa: E402


@pytest.fixture
def backstop(tmp_path) -> Backstop:
    return Backstop(tmp_path / "data")


@pytest.fixture
def with_olivia(backstop) -> Backstop:
    """Olivia made in-process (quicker than a second command); the CLI reads the same files."""
    backstop.data_dir.mkdir(exist_ok=True)
    migrate(backstop.data_dir / "backstop.db")
    with backstop.db() as db:
        admins.create_admin(db, OLIVIA, GOOD_PASSWORD)
    return backstop


@pytest.fixture
def with_acme(with_olivia) -> Backstop:
    with with_olivia.db() as db:
        olivia = admins.find_admin_by_email(db, OLIVIA)
        create_workspace(db, with_olivia.box(), "Acme Analytics", olivia, "acme")
    return with_olivia
