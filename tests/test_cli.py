"""The ``backstop`` command, run for real in a subprocess the way an operator or a script runs it."""

from __future__ import annotations

import json
import sqlite3

from backstop.db.migrations import migrations
from backstop.lib.crypto import sha256_hex
from backstop.workspaces import admins
from backstop.workspaces.tokens import authenticate_token
from backstop.workspaces.workspaces import embed_secret, get_workspace_by_slug
from tests.builders import GOOD_PASSWORD, NOT_A_DATABASE, OLIVIA, Backstop, assert_fails_with

# admin


def test_it_creates_an_admin_who_can_then_sign_in(backstop):
    result = backstop(
        "admin", "create", "--email", "Olivia@Acme.test", "--password-stdin", stdin=GOOD_PASSWORD
    )
    assert result.returncode == 0, result.stderr
    assert "Created admin olivia@acme.test." in result.stdout
    with backstop.db() as db:
        assert admins.authenticate(db, OLIVIA, GOOD_PASSWORD, "127.0.0.1") is not None
        stored = db.execute("SELECT password_hash FROM admins").fetchone()[0]
        assert GOOD_PASSWORD not in stored and stored.startswith("$argon2id$")


def test_it_refuses_a_weak_admin_password(backstop):
    result = backstop("admin", "create", "--email", OLIVIA, "--password-stdin", stdin="password123\n")
    assert_fails_with(result, "That password is on every attacker's list; choose another.")
    with backstop.db() as db:
        assert not admins.any_admin_exists(db)


def test_it_asks_for_the_password_on_standard_input(backstop):
    result = backstop("admin", "create", "--email", OLIVIA, "--password-stdin", stdin="")
    assert_fails_with(result, "No password on standard input")


def test_it_refuses_a_second_admin_with_the_same_email(with_olivia):
    result = with_olivia(
        "admin", "create", "--email", OLIVIA.upper(), "--password-stdin", stdin=GOOD_PASSWORD
    )
    assert_fails_with(result, "already exists")


def test_it_refuses_an_email_that_is_not_one(backstop):
    result = backstop("admin", "create", "--email", "olivia", "--password-stdin", stdin=GOOD_PASSWORD)
    assert_fails_with(result, "doesn't look like an email address")


def test_it_gives_a_workspace_made_before_any_admin_to_the_first_admin(backstop):
    assert backstop("workspace", "create", "--name", "Acme", "--slug", "acme").returncode == 0
    result = backstop("admin", "create", "--email", OLIVIA, "--password-stdin", stdin=GOOD_PASSWORD)
    assert result.returncode == 0, result.stderr
    assert "They own acme, which had no owner." in result.stdout
    with backstop.db() as db:
        olivia = admins.find_admin_by_email(db, OLIVIA)
        row = db.execute("SELECT role FROM workspace_members WHERE admin_id = ?", [olivia.id]).fetchone()
        assert row[0] == "owner"


def test_it_sets_a_new_password_and_signs_the_admin_out_everywhere(with_olivia):
    with with_olivia.db() as db:
        token = admins.start_session(db, admins.find_admin_by_email(db, OLIVIA))
    result = with_olivia(
        "admin", "set-password", "--email", OLIVIA, "--password-stdin", stdin="a-brand-new-passphrase\n"
    )
    assert result.returncode == 0, result.stderr
    assert f"Password changed for {OLIVIA}" in result.stdout
    with with_olivia.db() as db:
        assert admins.resolve_session(db, token) is None
        assert admins.authenticate(db, OLIVIA, GOOD_PASSWORD, "10.0.0.1") is None
        assert admins.authenticate(db, OLIVIA, "a-brand-new-passphrase", "10.0.0.1") is not None


def test_it_refuses_a_weak_new_password(with_olivia):
    result = with_olivia("admin", "set-password", "--email", OLIVIA, "--password-stdin", stdin="short")
    assert_fails_with(result, "Use at least 10 characters")
    with with_olivia.db() as db:
        assert admins.authenticate(db, OLIVIA, GOOD_PASSWORD, "10.0.0.1") is not None


def test_it_says_when_no_admin_has_that_email(with_olivia):
    result = with_olivia(
        "admin", "set-password", "--email", "nobody@acme.test", "--password-stdin", stdin=GOOD_PASSWORD
    )
    assert_fails_with(result, "No admin has the email nobody@acme.test.")


# workspace


def test_it_creates_a_workspace_and_prints_its_slug_and_embed_secret_as_json(with_olivia):
    result = with_olivia("workspace", "create", "--name", "Acme Analytics", "--json")
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert printed["slug"] == "acme-analytics"
    assert printed["embed_secret"].startswith("es_")
    with with_olivia.db() as db:
        ws = get_workspace_by_slug(db, "acme-analytics")
        assert embed_secret(db, with_olivia.box(), ws["id"]) == printed["embed_secret"]
        owner = db.execute(
            "SELECT a.email FROM workspace_members m JOIN admins a ON a.id = m.admin_id"
        ).fetchone()
        assert owner[0] == OLIVIA


def test_it_uses_the_slug_given(with_olivia):
    result = with_olivia("workspace", "create", "--name", "Acme Analytics", "--slug", "acme", "--json")
    assert json.loads(result.stdout)["slug"] == "acme"


def test_it_prints_the_workspace_for_a_person_without_json(with_olivia):
    result = with_olivia("workspace", "create", "--name", "Acme Analytics")
    assert result.returncode == 0, result.stderr
    assert "Created workspace Acme Analytics (acme-analytics)." in result.stdout
    assert "Embed secret: es_" in result.stdout


def test_it_refuses_a_duplicate_slug(with_acme):
    result = with_acme("workspace", "create", "--name", "Another", "--slug", "acme", "--json")
    assert_fails_with(result, "The slug “acme” is taken; pick another.")
    assert result.stdout == ""


def test_it_refuses_a_reserved_slug(with_olivia):
    result = with_olivia("workspace", "create", "--name", "Acme", "--slug", "admin")
    assert_fails_with(result, "“admin” is reserved; pick another slug.")


def test_it_refuses_an_owner_who_does_not_exist(with_olivia):
    result = with_olivia("workspace", "create", "--name", "Acme", "--owner", "ghost@acme.test")
    assert_fails_with(result, "No admin has the email ghost@acme.test")


# token


def test_it_mints_a_token_that_authenticates_and_prints_it_once(with_acme):
    result = with_acme("token", "create", "--workspace", "acme", "--name", "billing backend")
    assert result.returncode == 0, result.stderr
    raw = result.stdout.strip()
    assert raw.startswith("bk_test_") and "\n" not in raw
    assert "cannot show it again" in result.stderr
    with with_acme.db() as db:
        owner = authenticate_token(db, raw)
        assert owner is not None and owner.workspace_slug == "acme" and owner.livemode is False
        stored = db.execute("SELECT token_hash, prefix FROM api_tokens").fetchone()
        assert stored[0] == sha256_hex(raw)
        assert raw not in (stored[0], stored[1])


def test_it_refuses_a_token_for_an_unknown_workspace(with_acme):
    result = with_acme("token", "create", "--workspace", "nope", "--name", "x")
    assert_fails_with(result, "No workspace has the slug 'nope'")


def test_it_refuses_a_token_without_a_name(with_acme):
    result = with_acme("token", "create", "--workspace", "acme", "--name", "  ")
    assert_fails_with(result, "Name the token")


def test_it_revokes_a_token_by_its_shown_prefix(with_acme):
    raw = with_acme("token", "create", "--workspace", "acme", "--name", "ci").stdout.strip()
    result = with_acme("token", "revoke", "--workspace", "acme", raw[:16] + "…")
    assert result.returncode == 0, result.stderr
    with with_acme.db() as db:
        assert authenticate_token(db, raw) is None


def test_it_says_when_no_token_has_that_prefix(with_acme):
    result = with_acme("token", "revoke", "--workspace", "acme", "bk_test_nothere0")
    assert_fails_with(result, "No single active token starts with")


# migrate


def test_it_migrates_a_fresh_data_dir_and_then_reports_it_up_to_date(backstop):
    first = backstop("migrate")
    assert first.returncode == 0, first.stderr
    for migration in migrations._migrations:
        assert f"applied {migration.name}" in first.stdout
    second = backstop("migrate")
    assert second.returncode == 0
    assert "The database is up to date." in second.stdout


def test_it_refuses_to_migrate_a_corrupt_database(backstop):
    backstop.data_dir.mkdir()
    (backstop.data_dir / "backstop.db").write_bytes(NOT_A_DATABASE)
    assert_fails_with(backstop("migrate"), "is not a readable SQLite database")


def test_it_refuses_every_command_when_a_setting_is_malformed(backstop):
    backstop.env["BACKSTOP_PORT"] = "eighty"
    for args in (["migrate"], ["check"], ["workspace", "create", "--name", "A"]):
        assert_fails_with(backstop(*args), "BACKSTOP_PORT='eighty' is not a number")


# backup while serving


def test_it_backs_up_both_databases_while_the_server_is_running(live_server, tmp_path):
    cli = Backstop(live_server.data_dir)
    cli.env = {k: v for k, v in live_server.env.items() if k.startswith("BACKSTOP_")}
    created = cli("admin", "create", "--email", OLIVIA, "--password-stdin", stdin=GOOD_PASSWORD)
    assert created.returncode == 0, created.stderr
    assert cli("workspace", "create", "--name", "Acme", "--slug", "acme").returncode == 0

    result = cli("backup", str(tmp_path / "backups"))
    assert result.returncode == 0, result.stderr
    assert live_server.process.poll() is None, "the server stopped during the backup"
    copies = sorted((tmp_path / "backups").glob("*.db"))
    assert [p.name.split("-")[0] for p in copies] == ["backstop", "jobs"]
    for copy in copies:
        assert f"wrote {copy}" in result.stdout
        conn = sqlite3.connect(f"file:{copy}?mode=ro", uri=True)
        try:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            if copy.name.startswith("backstop"):
                assert conn.execute("SELECT email FROM admins").fetchall() == [(OLIVIA,)]
                assert conn.execute("SELECT slug FROM workspaces").fetchall() == [("acme",)]
            else:
                assert conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0] > 0
        finally:
            conn.close()


def test_it_says_there_is_nothing_to_back_up_in_an_empty_data_dir(backstop, tmp_path):
    backstop.data_dir.mkdir()
    assert_fails_with(backstop("backup", str(tmp_path / "backups")), "There is no database in")
