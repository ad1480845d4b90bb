"""Settings → Data in Chromium: the owner picks a format and the browser saves the zip."""

from __future__ import annotations

import re
import zipfile

from playwright.sync_api import expect

from backstop.db import connect, migrate
from backstop.lib.crypto import SecretBox
from backstop.settings import Settings, ensure_secret_key
from backstop.workspaces.admins import create_admin
from backstop.workspaces.workspaces import create_workspace
from tests.builders import fill_workspace
from tests.conftest import start_live_server

EMAIL = "olivia@acme.test"
PASSWORD = "olivia-owns-the-shop"


def test_an_owner_downloads_the_export_from_the_data_page(page, tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    migrate(data_dir / "backstop.db")
    db = connect(data_dir / "backstop.db")
    box = SecretBox(ensure_secret_key(Settings(data_dir=data_dir)).secret_key)
    olivia = create_admin(db, EMAIL, PASSWORD)
    ws, secret = create_workspace(db, box, "Acme Analytics", olivia, "acme")
    filled = fill_workspace(db, box, ws.id, secret)
    db.conn.close()
    server = start_live_server(data_dir)
    try:
        page.goto(server.url + "/w/acme/settings/data")
        page.get_by_label("Email").fill(EMAIL)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.goto(server.url + "/w/acme/settings/data")
        expect(page.get_by_role("heading", name="Export everything")).to_be_visible()
        page.get_by_label(re.compile("JSON Lines")).check()
        with page.expect_download() as caught:
            page.get_by_role("button", name="Download export (.zip)").click()
        download = caught.value
        assert re.fullmatch(r"backstop-acme-\d{8}-jsonl\.zip", download.suggested_filename)
        saved = tmp_path / download.suggested_filename
        download.save_as(saved)
        with zipfile.ZipFile(saved) as zf:
            names = {n.split("/", 1)[1] for n in zf.namelist()}
            customers = next(n for n in zf.namelist() if n.endswith("/customers.jsonl"))
            assert "ada@acme.test" in zf.read(customers).decode()
            assert filled.stripe_key not in b"".join(zf.read(n) for n in zf.namelist()).decode()
        assert {"README.txt", "manifest.json", "campaigns.jsonl", "webhook_deliveries.jsonl"} <= names
        expect(page.get_by_role("heading", name="Export everything")).to_be_visible()
    finally:
        server.stop()
