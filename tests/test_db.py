"""The database: opened with WAL and foreign keys, migrated to the latest schema on every start,
and upgraded from every earlier step without losing rows."""

from __future__ import annotations

import re
import sqlite3

import pytest

from backstop import clock
from backstop.db import connect, migrate, opened
from backstop.db.migrations import migrations
from backstop.web.app import create_app

NAMES = [m.name for m in migrations._migrations]
FOUNDATION_TABLES = {
    "admins",
    "admin_sessions",
    "login_attempts",
    "workspaces",
    "workspace_members",
    "api_tokens",
}


def table_names(db) -> set[str]:
    return set(db.table_names())


def applied_names(path) -> list[str]:
    with opened(path) as db:
        return [m.name for m in migrations.applied(db)]


def test_it_builds_the_latest_schema_in_a_fresh_database(tmp_path):
    path = tmp_path / "backstop.db"
    applied = migrate(path)
    assert applied == NAMES
    with opened(path) as db:
        assert table_names(db) >= FOUNDATION_TABLES
        assert migrations.pending(db) == []


def test_it_opens_connections_with_wal_foreign_keys_and_a_busy_timeout(tmp_path):
    path = tmp_path / "backstop.db"
    migrate(path)
    with opened(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert db.execute("PRAGMA busy_timeout").fetchone()[0] >= 1000


def test_it_enforces_foreign_keys(tmp_path):
    path = tmp_path / "backstop.db"
    migrate(path)
    with opened(path) as db, pytest.raises(sqlite3.IntegrityError):
        db.execute(
            "INSERT INTO workspace_members (workspace_id, admin_id, role, created_at) "
            "VALUES (99, 99, 'owner', ?)",
            [clock.iso()],
        )


def test_it_leaves_no_transaction_open_between_statements(tmp_path):
    path = tmp_path / "backstop.db"
    migrate(path)
    writer = connect(path)
    other = connect(path)
    try:
        writer.execute(
            "INSERT INTO admins (email, password_hash, created_at) VALUES ('a@b.co', 'x', ?)", [clock.iso()]
        )
        assert other.execute("SELECT COUNT(*) FROM admins").fetchone()[0] == 1
    finally:
        writer.conn.close()
        other.conn.close()


def test_it_migrates_on_every_app_start_and_does_nothing_the_second_time(tmp_path, settings):
    create_app(settings, run_jobs=False)
    assert applied_names(settings.db_path) == NAMES
    create_app(settings, run_jobs=False)
    assert applied_names(settings.db_path) == NAMES
    assert migrate(settings.db_path) == []


def test_it_names_migrations_nnnn_verb_noun_in_order_without_repeats():
    assert len(NAMES) == len(set(NAMES))
    numbers = []
    for name in NAMES:
        match = re.fullmatch(r"(\d{4})_[a-z]+(?:_[a-z0-9]+)+", name)
        assert match, f"{name} is not NNNN_verb_noun"
        numbers.append(int(match.group(1)))
    assert numbers == sorted(numbers)
    assert len(numbers) == len(set(numbers))


# Upgrades. Rows written in the schema of an early step are written with that step's own SQL (a
# shipped migration never changes), then every later step runs and every row must still be there.


def count(db, table: str) -> int:
    return db[table].count


def seed_rows_for_existing_tables(db) -> None:
    now = clock.iso()
    tables = table_names(db)
    if "admins" in tables:
        db.execute(
            "INSERT INTO admins (email, password_hash, created_at) VALUES (?, ?, ?)",
            [f"early-{count(db, 'admins')}@acme.test", "hash", now],
        )
    if "workspaces" in tables:
        cur = db.execute(
            "INSERT INTO workspaces (slug, name, embed_secret_enc, created_at) VALUES (?, ?, ?, ?)",
            [f"early-{count(db, 'workspaces')}", "Early", "enc", now],
        )
        admin_id = db.execute("SELECT MAX(id) FROM admins").fetchone()[0]
        db.execute(
            "INSERT INTO workspace_members (workspace_id, admin_id, role, created_at) "
            "VALUES (?, ?, 'owner', ?)",
            [cur.lastrowid, admin_id, now],
        )
    if "api_tokens" in tables:
        ws_id = db.execute("SELECT MAX(id) FROM workspaces").fetchone()[0]
        db.execute(
            "INSERT INTO api_tokens (workspace_id, name, token_hash, prefix, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            [ws_id, "early", f"hash-{count(db, 'api_tokens')}", "bk_test_early000", now],
        )


def snapshot(db) -> dict[str, list[dict]]:
    out = {}
    for table in table_names(db):
        if table.startswith(("_sqlite", "sqlite_")):
            continue
        out[table] = [dict(r) for r in db.execute(f"SELECT rowid AS _rowid, * FROM [{table}]").fetchall()]  # noqa: S608
    return out


@pytest.mark.parametrize("step", NAMES)
def test_it_upgrades_from_each_earlier_step_keeping_the_data(tmp_path, step):
    path = tmp_path / "backstop.db"
    with opened(path) as db:
        migrations.apply(db, stop_before=step)
        assert next(m.name for m in migrations.pending(db)) == step
        seed_rows_for_existing_tables(db)
        before = snapshot(db)
    applied = migrate(path)
    assert applied == NAMES[NAMES.index(step) :]
    with opened(path) as db:
        after = snapshot(db)
        assert migrations.pending(db) == []
        assert table_names(db) >= FOUNDATION_TABLES
    for table, rows in before.items():
        assert table in after, f"{table} disappeared"
        kept = {r["_rowid"]: r for r in after[table]}
        for row in rows:
            assert row["_rowid"] in kept, f"a row of {table} was lost"
            now = kept[row["_rowid"]]
            assert {k: now[k] for k in row if k in now} == row, f"a row of {table} changed"


def test_it_accepts_new_rows_after_an_upgrade(tmp_path):
    path = tmp_path / "backstop.db"
    with opened(path) as db:
        migrations.apply(db, stop_before=NAMES[1])
        seed_rows_for_existing_tables(db)
    migrate(path)
    with opened(path) as db:
        seed_rows_for_existing_tables(db)
        assert db.execute("SELECT COUNT(*) FROM admins").fetchone()[0] == 2
        assert db.execute("SELECT COUNT(*) FROM workspaces").fetchone()[0] == 2
        assert db.execute("SELECT COUNT(*) FROM api_tokens").fetchone()[0] == 1
