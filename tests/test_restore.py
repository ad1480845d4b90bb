"""Restore: a ``backstop backup`` file put back into a data folder answers as the original did."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import httpx
import pytest
import time_machine
from litestar.testing import TestClient

from backstop.backup import BackupError, backup_databases, restore_database
from backstop.db import connect, migrate
from backstop.lib.crypto import SecretBox
from backstop.settings import Settings
from backstop.workspaces.admins import create_admin
from backstop.workspaces.workspaces import create_workspace
from tests.builders import OLIVIA, Backstop, assert_fails_with, fill_workspace, text_of
from tests.conftest import csrf_from

PASSWORD = "olivia-owns-the-shop"
KEY = "k" * 48


def make_original(tmp_path: Path):
    settings = Settings(data_dir=tmp_path / "original", secret_key=KEY)
    settings.data_dir.mkdir()
    migrate(settings.db_path)
    db = connect(settings.db_path)
    box = SecretBox(KEY)
    olivia = create_admin(db, OLIVIA, PASSWORD)
    ws, secret = create_workspace(db, box, "Acme Analytics", olivia, "acme")
    filled = fill_workspace(db, box, ws.id, secret)
    campaign_id = db.execute("SELECT id FROM campaigns").fetchone()[0]
    db.conn.close()
    return settings, filled, campaign_id


def answers(settings: Settings, token: str, campaign_id: int) -> dict[str, object]:
    """What the admin pages say and what the API returns, read as a person and a program would."""
    from backstop.web.app import create_app

    pages = [
        "/w/acme/recovery",
        f"/w/acme/recovery/{campaign_id}",
        "/w/acme/customers",
        "/w/acme/customers/cus_acme1",
        "/w/acme/cancel-flows/analytics",
        "/w/acme/settings/webhooks",
        "/w/acme/settings/api-tokens",
        "/w/acme/emails",
    ]
    api = ["/api/v1/campaigns", "/api/v1/customers", "/api/v1/cancel_sessions", "/api/v1/webhook_endpoints"]
    with TestClient(app=create_app(settings, run_jobs=False), base_url="http://127.0.0.1") as client:
        form = client.get("/login")
        signed_in = client.post(
            "/login",
            data={"_csrf_token": csrf_from(form.text), "email": OLIVIA, "password": PASSWORD},
            follow_redirects=False,
        )
        assert signed_in.status_code in (302, 303)
        seen: dict[str, object] = {}
        for path in api:
            response = client.get(path, headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 200, path
            seen[path] = response.json()
        for page in pages:
            response = client.get(page)
            assert response.status_code == 200, page
            seen[page] = text_of(response.text)
    return seen


@time_machine.travel("2026-12-01 12:00:00+00:00", tick=False)
def test_it_answers_the_same_pages_and_api_calls_after_backup_and_restore(tmp_path):
    original, filled, campaign_id = make_original(tmp_path)
    before = answers(original, filled.api_token, campaign_id)
    assert "ada@acme.test" in str(before["/w/acme/customers"])
    assert before["/api/v1/campaigns"]["data"]

    backup_file = next(
        p for p in backup_databases(original, tmp_path / "backups") if p.name.startswith("backstop-")
    )
    key_file = tmp_path / "key"
    key_file.write_text(KEY + "\n")
    restored = Settings(data_dir=tmp_path / "restored")
    result = restore_database(restored, backup_file, secret_key_file=key_file)
    assert result.workspaces == 1 and result.warning is None

    assert answers(restored, filled.api_token, campaign_id) == before


def test_it_keeps_the_restored_files_private(tmp_path):
    original, _, _ = make_original(tmp_path)
    backup_file = backup_databases(original, tmp_path / "backups")[0]
    key_file = tmp_path / "key"
    key_file.write_text(KEY)
    restored = Settings(data_dir=tmp_path / "restored")
    restore_database(restored, backup_file, secret_key_file=key_file)
    assert stat.S_IMODE(restored.data_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE(restored.db_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(restored.secret_key_path.stat().st_mode) == 0o600
    assert sorted(p.name for p in restored.data_dir.iterdir()) == ["backstop.db", "secret_key"]


def test_it_refuses_a_data_folder_that_is_in_use_unless_forced(tmp_path):
    original, _, _ = make_original(tmp_path)
    backup_file = backup_databases(original, tmp_path / "backups")[0]
    target = Settings(data_dir=tmp_path / "busy", secret_key=KEY)
    target.data_dir.mkdir()
    migrate(target.db_path)
    with pytest.raises(BackupError, match="is not empty") as caught:
        restore_database(target, backup_file)
    assert "--force" in str(caught.value)
    with sqlite3.connect(target.db_path) as conn:
        assert conn.execute("SELECT count(*) FROM workspaces").fetchone()[0] == 0
    conn.close()

    restore_database(target, backup_file, force=True)
    with sqlite3.connect(target.db_path) as conn:
        assert conn.execute("SELECT slug FROM workspaces").fetchall() == [("acme",)]
    conn.close()


def test_it_restores_into_a_folder_that_holds_only_the_secret_key(tmp_path):
    original, _, _ = make_original(tmp_path)
    backup_file = backup_databases(original, tmp_path / "backups")[0]
    target = Settings(data_dir=tmp_path / "fresh")
    target.data_dir.mkdir()
    target.secret_key_path.write_text(KEY)
    assert restore_database(target, backup_file).warning is None


def test_it_warns_when_the_secrets_cannot_be_read(tmp_path):
    original, _, _ = make_original(tmp_path)
    backup_file = backup_databases(original, tmp_path / "backups")[0]
    no_key = restore_database(Settings(data_dir=tmp_path / "a"), backup_file)
    assert "no secret key" in no_key.warning
    other_key = restore_database(Settings(data_dir=tmp_path / "b", secret_key="o" * 48), backup_file)
    assert "does not open the backup's secrets" in other_key.warning


def test_it_refuses_a_damaged_or_wrong_file(tmp_path):
    original, _, _ = make_original(tmp_path)
    backups = backup_databases(original, tmp_path / "backups")
    target = Settings(data_dir=tmp_path / "target", secret_key=KEY)

    not_sqlite = tmp_path / "notes.db"
    not_sqlite.write_text("hello")
    with pytest.raises(BackupError, match="not a SQLite database"):
        restore_database(target, not_sqlite)

    jobs = tmp_path / "jobs-20261201T120000Z.db"
    with sqlite3.connect(jobs) as conn:
        conn.execute("CREATE TABLE task (id INTEGER PRIMARY KEY, data BLOB)")
    conn.close()
    with pytest.raises(BackupError, match="not a Backstop database"):
        restore_database(target, jobs)

    damaged = tmp_path / "damaged.db"
    data = bytearray(backups[0].read_bytes())
    page = 4096
    data[page * 3 : page * 3 + 200] = b"\xff" * 200  # scribble over a table's page
    damaged.write_bytes(bytes(data))
    with pytest.raises(BackupError, match=r"damaged|cannot be read"):
        restore_database(target, damaged)

    with pytest.raises(BackupError, match="There is no file"):
        restore_database(target, tmp_path / "missing.db")
    assert not target.db_path.exists()


def test_it_refuses_a_backup_from_a_newer_backstop(tmp_path):
    original, _, _ = make_original(tmp_path)
    with sqlite3.connect(original.db_path) as conn:
        conn.execute(
            "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
            "VALUES ('backstop', '0999_add_future', '2030-01-01')"
        )
    conn.close()
    backup_file = backup_databases(original, tmp_path / "backups")[0]
    with pytest.raises(BackupError, match="newer Backstop"):
        restore_database(Settings(data_dir=tmp_path / "t", secret_key=KEY), backup_file)


def test_the_command_restores_and_says_so(backstop, tmp_path):
    original, _, _ = make_original(tmp_path)
    backup_file = backup_databases(original, tmp_path / "backups")[0]
    key_file = tmp_path / "key"
    key_file.write_text(KEY)
    done = backstop(
        "restore", str(backup_file), "--data-dir", str(tmp_path / "new"), "--secret-key-file", str(key_file)
    )
    assert done.returncode == 0, done.stderr
    assert "restored" in done.stdout and "(1 workspace)" in done.stdout
    again = backstop("restore", str(backup_file), "--data-dir", str(tmp_path / "new"))
    assert_fails_with(again, "is not empty", "--force")


def test_the_export_command_writes_the_files(backstop, tmp_path):
    original, _, _ = make_original(tmp_path)
    backstop.data_dir = original.data_dir
    backstop.env = {"BACKSTOP_DATA_DIR": str(original.data_dir), "BACKSTOP_SECRET_KEY": KEY}
    out = tmp_path / "out"
    done = backstop("export", "--workspace", "acme", "--format", "jsonl", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "README.txt" in done.stdout
    assert (out / "customers.jsonl").read_text().count("ada@acme.test") == 1
    missing = backstop("export", "--workspace", "nope", "--out", str(tmp_path / "o2"))
    assert_fails_with(missing, "No workspace has the slug 'nope'")
    again = backstop("export", "--workspace", "acme", "--out", str(out))
    assert_fails_with(again, "not an empty folder")


def test_it_refuses_a_folder_a_running_backstop_serves_even_when_forced(tmp_path, live_server):
    original, _, _ = make_original(tmp_path)
    backup_file = backup_databases(original, tmp_path / "backups")[0]
    before = (live_server.data_dir / "backstop.db").read_bytes()
    refused = Backstop(live_server.data_dir)("restore", str(backup_file), "--force")
    assert_fails_with(refused, "running on", "stop it first")
    assert (live_server.data_dir / "backstop.db").read_bytes() == before
    assert httpx.get(live_server.url + "/healthz", timeout=5).status_code == 200
    live_server.stop()
    # Once it has stopped (the lock goes with the process), the same command goes through.
    done = Backstop(live_server.data_dir)("restore", str(backup_file), "--force")
    assert done.returncode == 0, done.stderr
