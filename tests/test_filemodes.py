"""Files at rest are Backstop's user's alone: the data folder 0700; the databases with their
-wal/-shm files, jobs.db, the secret key and backups 0600, whatever the umask. ``backstop check``
warns about any that are wider."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest
from litestar.testing import TestClient

from backstop.backup import backup_databases
from backstop.settings import Settings
from tests.conftest import VENV_BIN, free_port


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(params=[0o022, 0o000], ids=["umask-022", "umask-000"])
def loose_umask(request):
    old = os.umask(request.param)
    yield request.param
    os.umask(old)


def _start_and_write(data_dir: Path) -> Settings:
    from backstop.web.app import create_app

    settings = Settings(data_dir=data_dir, port=free_port())
    with TestClient(app=create_app(settings, run_jobs=False), base_url="http://127.0.0.1") as client:
        assert client.get("/setup").status_code == 200  # a request: the database is open in WAL
        client.get("/healthz")
    return settings


def test_a_fresh_data_folder_and_everything_in_it_are_private(tmp_path, loose_umask):
    data_dir = tmp_path / "data"
    from backstop.checks import check_data_dir

    check_data_dir(data_dir)
    settings = _start_and_write(data_dir)
    assert mode(data_dir) == 0o700
    for name in ("backstop.db", "jobs.db", "secret_key"):
        assert mode(data_dir / name) == 0o600, name
    wal = data_dir / "backstop.db-wal"
    if wal.exists():
        assert mode(wal) == 0o600
    written = backup_databases(settings, tmp_path / "backups")
    assert mode(tmp_path / "backups") == 0o700
    assert written and all(mode(file) == 0o600 for file in written)


def test_the_wal_and_shm_files_follow_the_private_database(tmp_path, loose_umask):
    from backstop.db import connect, migrate

    db_path = tmp_path / "backstop.db"
    migrate(db_path)
    db = connect(db_path)
    db.execute("CREATE TABLE t (x)")
    db.execute("INSERT INTO t VALUES (1)")
    assert (tmp_path / "backstop.db-wal").exists() and (tmp_path / "backstop.db-shm").exists()
    assert {mode(tmp_path / f"backstop.db{s}") for s in ("", "-wal", "-shm")} == {0o600}
    db.conn.close()


def test_an_existing_install_with_wide_modes_is_tightened_on_start(tmp_path):
    data_dir = tmp_path / "data"
    _start_and_write(data_dir)
    os.chmod(data_dir, 0o755)  # noqa: S103 - an install made before files were private
    for name in ("backstop.db", "jobs.db", "secret_key"):
        os.chmod(data_dir / name, 0o644)
    _start_and_write(data_dir)
    assert mode(data_dir) == 0o700
    assert {mode(data_dir / n) for n in ("backstop.db", "jobs.db", "secret_key")} == {0o600}


def test_backstop_check_warns_about_files_other_users_can_read(tmp_path):
    data_dir = tmp_path / "data"
    _start_and_write(data_dir)
    os.chmod(data_dir / "backstop.db", 0o644)
    os.chmod(data_dir / "secret_key", 0o640)
    env = {k: v for k, v in os.environ.items() if not k.startswith("BACKSTOP_")}
    env.update(BACKSTOP_DATA_DIR=str(data_dir), BACKSTOP_PORT=str(free_port()), COLUMNS="400")
    result = subprocess.run(
        [str(VENV_BIN / "backstop"), "check"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f"{data_dir / 'backstop.db'} has mode 0644: other users on this machine can read it" in out
    assert f"chmod 600 {data_dir / 'backstop.db'}" in out
    assert f"{data_dir / 'secret_key'} has mode 0640" in out
    assert "jobs.db has mode" not in out
    clean = subprocess.run(
        [str(VENV_BIN / "backstop"), "check"], env=env, capture_output=True, text=True, timeout=60
    )
    assert "backstop.db has mode" in clean.stdout  # check only warns; it leaves the database alone
