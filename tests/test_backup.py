"""Online backups: both databases copied with SQLite's backup API into a folder."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import time_machine

from backstop.backup import BackupError, backup_databases
from backstop.db import migrate
from backstop.settings import Settings


def readable_rows(path: Path, sql: str) -> list:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def make_databases(settings: Settings) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrate(settings.db_path)
    with sqlite3.connect(settings.db_path) as conn:
        conn.execute(
            "INSERT INTO admins (email, password_hash, created_at) VALUES ('olivia@acme.test', 'h', 'now')"
        )
    conn.close()
    with sqlite3.connect(settings.jobs_db_path) as conn:
        conn.execute("CREATE TABLE kv (key TEXT, value TEXT)")
        conn.execute("INSERT INTO kv VALUES ('k', 'v')")
    conn.close()


@time_machine.travel("2026-03-04 05:06:07+00:00", tick=False)
def test_it_writes_a_timestamped_copy_of_each_database(settings, tmp_path):
    make_databases(settings)
    written = backup_databases(settings, tmp_path / "backups")
    assert [p.name for p in written] == ["backstop-20260304T050607Z.db", "jobs-20260304T050607Z.db"]
    assert readable_rows(written[0], "SELECT email FROM admins") == [("olivia@acme.test",)]
    assert readable_rows(written[1], "SELECT value FROM kv") == [("v",)]


def test_it_backs_up_a_data_dir_whose_name_has_uri_characters(tmp_path):
    settings = Settings(data_dir=tmp_path / "shop #1? 100%", secret_key="t" * 48)
    make_databases(settings)
    written = backup_databases(settings, tmp_path / "backups")
    assert readable_rows(written[0], "SELECT email FROM admins") == [("olivia@acme.test",)]


def test_it_says_when_there_is_nothing_to_back_up(settings, tmp_path):
    with pytest.raises(BackupError) as caught:
        backup_databases(settings, tmp_path / "backups")
    assert "There is no database in" in str(caught.value)
    assert "BACKSTOP_DATA_DIR" in str(caught.value)


def test_it_refuses_to_back_up_into_the_data_dir(settings):
    make_databases(settings)
    with pytest.raises(BackupError) as caught:
        backup_databases(settings, settings.data_dir)
    assert "pick another folder" in str(caught.value)


def test_it_says_when_the_backup_folder_cannot_be_created(settings, tmp_path):
    make_databases(settings)
    (tmp_path / "a-file").write_text("")
    with pytest.raises(BackupError) as caught:
        backup_databases(settings, tmp_path / "a-file" / "backups")
    assert "pick a folder you can write to" in str(caught.value)
