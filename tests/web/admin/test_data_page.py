"""Settings → Data: an owner downloads everything as a zip; members and other workspaces can't."""

from __future__ import annotations

import csv
import io
import zipfile

import pytest

from backstop.workspaces.workspaces import create_workspace
from tests.builders import fill_workspace, text_of
from tests.conftest import csrf_from, post_form

PAGE = "/w/acme/settings/data"
ACTION = "/w/acme/settings/data/export"


@pytest.fixture
def filled(db, box, acme):
    secret = box.decrypt(
        db.execute("SELECT embed_secret_enc FROM workspaces WHERE id = ?", [acme.id]).fetchone()[0]
    )
    return fill_workspace(db, box, acme.id, secret)


def unzip(response) -> dict[str, str]:
    with zipfile.ZipFile(io.BytesIO(response.content)) as zf:
        return {name.split("/", 1)[1]: zf.read(name).decode() for name in zf.namelist()}


def test_it_shows_the_page_under_settings(as_olivia):
    page = as_olivia.get(PAGE)
    assert page.status_code == 200
    text = text_of(page.text)
    assert "Export everything" in text and "Download export (.zip)" in text
    assert "What the export holds — 33 files, plus README.txt and manifest.json" in text
    assert "customers Your Stripe customers, as mirrored from Stripe." in text
    assert 'href="/w/acme/settings/data" aria-current="page"' in page.text


def test_an_owner_downloads_a_zip_of_every_table(as_olivia, filled):
    response = post_form(as_olivia, PAGE, ACTION, {"format": "csv"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/zip"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="backstop-acme-') and disposition.endswith(
        '-csv.zip"'
    )
    assert response.headers["cache-control"] == "no-store"
    files = unzip(response)
    assert {"README.txt", "manifest.json", "customers.csv", "campaigns.csv", "cancel_sessions.csv"} <= set(
        files
    )
    customers = list(csv.DictReader(io.StringIO(files["customers.csv"])))
    assert [c["email"] for c in customers] == ["ada@acme.test"]
    everything = "".join(files.values())
    for secret in (filled.embed_secret, filled.webhook_secret, filled.api_token, filled.stripe_key):
        assert secret not in everything


def test_it_downloads_json_lines(as_olivia, filled):
    files = unzip(post_form(as_olivia, PAGE, ACTION, {"format": "jsonl"}))
    assert '"email": "ada@acme.test"' in files["customers.jsonl"]


def test_it_refuses_an_unknown_format_with_a_reason(as_olivia, filled):
    response = post_form(as_olivia, PAGE, ACTION, {"format": "xlsx"})
    assert response.status_code == 400
    assert "Choose CSV or JSON Lines" in text_of(response.text)


def test_it_needs_the_csrf_token(as_olivia, filled):
    response = as_olivia.post(ACTION, data={"format": "csv"}, follow_redirects=False)
    assert response.status_code == 403
    assert "PK" not in response.text[:2]


def test_a_member_sees_the_page_but_cannot_download(as_marco, filled):
    page = as_marco.get(PAGE)
    assert "Only an owner of this workspace can download its data." in text_of(page.text)
    response = as_marco.post(ACTION, data={"_csrf_token": csrf_from(page.text), "format": "csv"})
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("text/html")


def test_another_workspaces_owner_gets_a_404(client, db, box, filled, marco):
    from tests.conftest import login

    create_workspace(db, box, "Bolt Bikes", marco.admin, "bolt")
    login(client, marco)
    page = client.get("/w/bolt/settings/data")
    response = client.post(ACTION, data={"_csrf_token": csrf_from(page.text), "format": "csv"})
    assert response.status_code == 404
    assert client.get(PAGE).status_code == 404
