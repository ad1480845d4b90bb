"""Export everything a workspace owns: one file per table, described, and never a secret."""

from __future__ import annotations

import csv
import io
import json
import os
import stat
import zipfile

import pytest

from backstop.db import write_transaction
from backstop.export import ExportError, Workspace, export_to_dir, export_zip, tables
from backstop.workspaces.workspaces import create_workspace
from tests.builders import fill_workspace

EXPECTED_FILES = {
    "workspace",
    "members",
    "api_tokens",
    "stripe_connection",
    "customers",
    "subscriptions",
    "invoices",
    "recovery_settings",
    "campaigns",
    "campaign_events",
    "payment_attempts",
    "recovery_steps",
    "winbacks",
    "dunning_copy",
    "emails",
    "email_suppressions",
    "email_branding",
    "send_domain",
    "cancel_flows",
    "cancel_flow_versions",
    "cancel_flow_approvals",
    "cancel_offer_policies",
    "cancel_sessions",
    "cancel_actions",
    "webhook_endpoints",
    "webhook_events",
    "webhook_deliveries",
    "webhook_attempts",
    "embed_origins",
    "embed_settings",
    "portal_domain",
    "notification_settings",
    "weekly_summaries",
}


@pytest.fixture
def filled(db, box, olivia):
    ws, secret = create_workspace(db, box, "Acme Analytics", olivia.admin, "acme")
    other, other_secret = create_workspace(db, box, "Bolt Bikes", olivia.admin, "bolt")
    fill_workspace(db, box, other.id, other_secret, tag="bolt")
    return fill_workspace(db, box, ws.id, secret, tag="acme")


def acme(filled) -> Workspace:
    return Workspace(filled.workspace_id, "acme", "Acme Analytics")


def read_csv(path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_it_writes_one_csv_per_table_with_the_workspaces_rows(db, filled, tmp_path):
    out = tmp_path / "export"
    export_to_dir(db, acme(filled), "csv", out)
    assert {p.stem for p in out.glob("*.csv")} == EXPECTED_FILES
    customers = read_csv(out / "customers.csv")
    assert [(c["id"], c["email"], c["name"]) for c in customers] == [
        ("cus_acme1", "ada@acme.test", "Ada Lovelace")
    ]
    campaigns = read_csv(out / "campaigns.csv")
    assert [(c["invoice_id"], c["status"], c["amount_due"]) for c in campaigns] == [
        ("in_acme1", "recovered", "4900")
    ]
    attempts = read_csv(out / "payment_attempts.csv")
    assert [(a["campaign_id"], a["outcome"]) for a in attempts] == [(campaigns[0]["id"], "succeeded")]
    assert [e["to_email"] for e in read_csv(out / "emails.csv")] == ["ada@acme.test"]
    sessions = read_csv(out / "cancel_sessions.csv")
    assert [(s["outcome"], s["mrr_saved"]) for s in sessions] == [("saved_pause", "4900")]
    deliveries = read_csv(out / "webhook_deliveries.csv")
    assert len(deliveries) == 1 and deliveries[0]["endpoint_id"].startswith("we_")
    assert deliveries[0]["event_id"].startswith("evt_")
    assert [m["email"] for m in read_csv(out / "members.csv")] == ["olivia@acme.test"]


def test_it_exports_nothing_of_another_workspace(db, filled, tmp_path):
    out = tmp_path / "export"
    export_to_dir(db, acme(filled), "jsonl", out)
    everything = "".join(p.read_text() for p in out.iterdir())
    assert "acme.test" in everything
    assert "bolt" not in everything.lower()


def test_it_never_exports_a_secret(db, filled, tmp_path):
    out = tmp_path / "export"
    export_to_dir(db, acme(filled), "csv", out)
    everything = "".join(p.read_text() for p in out.iterdir())
    for secret in (
        filled.embed_secret,
        filled.webhook_secret,
        filled.api_token,
        filled.stripe_key,
        "whsec_acme",
    ):
        assert secret not in everything
    encrypted = db.execute(
        "SELECT embed_secret_enc FROM workspaces WHERE id = ?", [filled.workspace_id]
    ).fetchone()[0]
    assert encrypted not in everything
    for column in ("_enc", "token_hash", "key_hash", "password_hash", "idempotency_key", "request_headers"):
        assert column not in everything


def test_it_writes_json_lines_with_null_for_no_value(db, filled, tmp_path):
    out = tmp_path / "export"
    export_to_dir(db, acme(filled), "jsonl", out)
    lines = (out / "campaigns.jsonl").read_text().splitlines()
    campaign = json.loads(lines[0])
    assert campaign["invoice_id"] == "in_acme1" and campaign["amount_due"] == 4900
    assert campaign["decline_code"] is None
    assert (out / "dunning_copy.jsonl").read_text() == ""


def test_it_describes_every_file_and_column_in_the_readme_and_manifest(db, filled, tmp_path):
    out = tmp_path / "export"
    export_to_dir(db, acme(filled), "csv", out)
    readme = (out / "README.txt").read_text()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["workspace"] == {"slug": "acme", "name": "Acme Analytics"}
    files = {f["file"]: f for f in manifest["files"]}
    assert set(files) == {f"{name}.csv" for name in EXPECTED_FILES}
    assert files["customers.csv"]["rows"] == 1
    assert files["dunning_copy.csv"]["rows"] == 0
    for table in tables(db, filled.workspace_id):
        assert f"{table.name}.csv (" in readme
        header = (out / f"{table.name}.csv").read_text().splitlines()[0].split(",")
        assert header == table.column_names
        for name, description in table.columns:
            assert description and f"- {name}" in readme
    assert "customers.csv (1 row)" in readme
    assert "dunning_copy.csv (0 rows)" in readme
    assert "None" not in readme and "null" not in readme.replace("null for no value", "")


def test_it_keeps_the_export_private(db, filled, tmp_path):
    out = tmp_path / "export"
    export_to_dir(db, acme(filled), "csv", out)
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    assert {stat.S_IMODE(p.stat().st_mode) for p in out.iterdir()} == {0o600}


def test_it_refuses_a_folder_that_already_holds_files(db, filled, tmp_path):
    out = tmp_path / "export"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(ExportError, match="not an empty folder"):
        export_to_dir(db, acme(filled), "csv", out)
    assert (out / "notes.txt").read_text() == "mine"


def test_it_refuses_an_unknown_format(db, filled, tmp_path):
    with pytest.raises(ExportError, match="csv or jsonl"):
        export_to_dir(db, acme(filled), "xml", tmp_path / "out")


def test_the_zip_holds_the_same_files_in_one_folder(db, filled, tmp_path):
    out = tmp_path / "export"
    export_to_dir(db, acme(filled), "csv", out)
    data = b"".join(export_zip(db, acme(filled), "csv"))
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.testzip() is None
        names = zf.namelist()
        folders = {n.split("/")[0] for n in names}
        assert len(folders) == 1 and folders.pop().startswith("backstop-acme-")
        by_file = {n.split("/")[1]: zf.read(n).decode() for n in names}
    assert set(by_file) == {p.name for p in out.iterdir()}
    for name in by_file:
        if name not in ("README.txt", "manifest.json"):
            assert by_file[name] == (out / name).read_bytes().decode(), name


def test_the_zip_streams_a_large_table_in_pieces(db, filled, tmp_path):
    campaign_id = db.execute(
        "SELECT id FROM campaigns WHERE workspace_id = ?", [filled.workspace_id]
    ).fetchone()[0]
    rows = [(campaign_id, "2026-11-01T10:00:00+00:00", "note", os.urandom(64).hex()) for _ in range(3000)]
    with write_transaction(db):
        db.conn.executemany(
            "INSERT INTO campaign_events (campaign_id, at, kind, detail) VALUES (?, ?, ?, ?)", rows
        )
    pieces = list(export_zip(db, acme(filled), "jsonl"))
    assert len(pieces) > 3
    with zipfile.ZipFile(io.BytesIO(b"".join(pieces))) as zf:
        name = next(n for n in zf.namelist() if n.endswith("/campaign_events.jsonl"))
        assert len(zf.read(name).decode().splitlines()) == 3001


def test_it_reads_every_table_as_of_one_moment(db, filled, tmp_path, settings):
    """A webhook event written while the export runs is in neither the events nor the deliveries:
    the two files always agree."""
    from backstop.db import connect
    from backstop.webhooks_out.events import record_event

    other = connect(settings.db_path)
    pieces = export_zip(db, acme(filled), "csv")
    first = next(pieces)  # the export has started reading
    with write_transaction(other):
        record_event(other, filled.workspace_id, "recovery.recovered", {"campaign": 99})
    other.conn.close()
    data = first + b"".join(pieces)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        by_file = {n.split("/")[1]: zf.read(n).decode() for n in zf.namelist()}
    assert len(list(csv.DictReader(io.StringIO(by_file["webhook_events.csv"])))) == 1
    assert len(list(csv.DictReader(io.StringIO(by_file["webhook_deliveries.csv"])))) == 1
    assert (
        len(
            db.execute(
                "SELECT id FROM webhook_events WHERE workspace_id = ?", [filled.workspace_id]
            ).fetchall()
        )
        == 2
    )


def test_a_customers_text_never_runs_as_a_spreadsheet_formula(db, filled, tmp_path):
    db.execute(
        "UPDATE cancel_sessions SET free_text = ?, reason_label = ? WHERE workspace_id = ?",
        ['=HYPERLINK("http://evil.test","click")', "-too expensive", filled.workspace_id],
    )
    export_to_dir(db, acme(filled), "csv", tmp_path / "csv")
    [session] = read_csv(tmp_path / "csv" / "cancel_sessions.csv")
    assert session["free_text"] == '\'=HYPERLINK("http://evil.test","click")'
    assert session["reason_label"] == "'-too expensive"
    assert session["mrr_saved"] == "4900"
    export_to_dir(db, acme(filled), "jsonl", tmp_path / "jsonl")
    exact = json.loads((tmp_path / "jsonl" / "cancel_sessions.jsonl").read_text())
    assert exact["free_text"] == '=HYPERLINK("http://evil.test","click")'
