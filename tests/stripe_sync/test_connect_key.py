"""Connecting with a restricted key against the fake Stripe: the service, the Settings page, the CLI."""

from __future__ import annotations

import pytest

from backstop.db import migrate
from backstop.stripe_sync import backfill, connection, permissions, service
from backstop.workspaces.errors import ValidationError
from backstop.workspaces.workspaces import add_member
from tests.conftest import login, post_form
from tests.stripe_sync.support import (
    aimed_at,
    backstop_cli,
    cli_env,
    counts,
    restricted_key,
)

PAGE = "/w/acme/settings/stripe"


@pytest.fixture
def settings(settings, fake_stripe):
    return aimed_at(settings, fake_stripe)


def saved_connection(db):
    return db.execute("SELECT * FROM stripe_connections").fetchone()


def other_resources_named(message: str, resource: str) -> list[str]:
    return [p.resource for p in permissions.PERMISSIONS if p.resource != resource and p.resource in message]


# --- the service -------------------------------------------------------------------------------


def test_it_saves_the_key_encrypted_and_starts_the_backfill(db, box, settings, acme, fake_stripe):
    key = restricted_key(fake_stripe)
    result = service.connect_restricted_key(db, box, settings, acme.id, "acme", key)
    assert result.livemode is False
    assert result.webhook == "polling" and result.missing_optional == []
    row = saved_connection(db)
    assert row["method"] == "restricted_key" and row["status"] == "live" and row["polling"] == 1
    assert key not in row["api_key_enc"] and box.decrypt(row["api_key_enc"]) == key
    # Not in the database file or its write-ahead log either.
    raw = b"".join(p.read_bytes() for p in settings.data_dir.glob("backstop.db*"))
    assert key.encode() not in raw
    assert backfill.progress(db, acme.id).stage == "products"


def test_the_mode_follows_the_key(db, box, settings, acme, fake_stripe):
    key = restricted_key(fake_stripe, livemode=True)
    result = service.connect_restricted_key(db, box, settings, acme.id, "acme", key)
    assert result.livemode is True
    assert connection.get(db, acme.id).mode == "livemode"


def test_it_names_exactly_the_missing_permission_and_saves_nothing(db, box, settings, acme, fake_stripe):
    key = restricted_key(fake_stripe, invoices="read")
    with pytest.raises(ValidationError) as caught:
        service.connect_restricted_key(db, box, settings, acme.id, "acme", key)
    message = caught.value.message
    assert "Invoices" in message and "Write" in message
    assert other_resources_named(message, "Invoices") == []
    assert saved_connection(db) is None and backfill.progress(db, acme.id) is None


def test_it_lists_every_missing_permission_when_several_are(db, box, settings, acme, fake_stripe):
    key = restricted_key(fake_stripe, invoices="read", coupons="none", events="none")
    with pytest.raises(ValidationError) as caught:
        service.connect_restricted_key(db, box, settings, acme.id, "acme", key)
    assert "set Invoices to Write" in caught.value.message
    assert "Coupons: Write" in caught.value.message and "Events: Read" in caught.value.message


def test_an_optional_permission_may_be_missing(db, box, settings, acme, fake_stripe):
    key = restricted_key(fake_stripe, webhook_endpoints="none", billing_portal="none")
    result = service.connect_restricted_key(db, box, settings, acme.id, "acme", key)
    assert result.missing_optional == ["Webhook Endpoints", "Customer portal"]
    assert saved_connection(db)["status"] == "live"


@pytest.mark.parametrize("how", ["revoked", "unknown"])
def test_a_key_stripe_refuses_gets_a_clear_error(db, box, settings, acme, fake_stripe, how):
    key = restricted_key(fake_stripe)
    if how == "revoked":
        fake_stripe.revoke_key(key)
    else:
        key = "rk_test_" + "Z" * 30
    with pytest.raises(ValidationError) as caught:
        service.connect_restricted_key(db, box, settings, acme.id, "acme", key)
    assert "Stripe doesn't accept this key" in caught.value.message
    assert saved_connection(db) is None


def test_a_full_secret_key_is_refused_without_asking_stripe(db, box, settings, acme, fake_stripe):
    with pytest.raises(ValidationError) as caught:
        service.connect_restricted_key(db, box, settings, acme.id, "acme", fake_stripe.secret_key)
    assert "full secret key" in caught.value.message
    assert len(fake_stripe.requests) == 0
    assert saved_connection(db) is None


def test_stripe_being_down_during_the_check_saves_nothing(db, box, settings, acme, fake_stripe):
    fake_stripe.faults.server_error(count=10)
    with pytest.raises(ValidationError) as caught:
        service.connect_restricted_key(db, box, settings, acme.id, "acme", restricted_key(fake_stripe))
    assert "couldn't be reached" in caught.value.message
    assert saved_connection(db) is None


def test_the_probe_changes_nothing_in_stripe(db, box, settings, acme, fake_stripe):
    service.connect_restricted_key(db, box, settings, acme.id, "acme", restricted_key(fake_stripe))
    assert fake_stripe.events() == []
    assert {r.status for r in fake_stripe.requests} <= {200, 404}


# --- Settings → Stripe connection -------------------------------------------------------------


def test_olivia_connects_on_the_settings_page_and_sees_the_sync(client, db, box, olivia, acme, fake_stripe):
    price = fake_stripe.create_price(1500)
    fake_stripe.seed_customers(3, price=price["id"])
    login(client, olivia)
    key = restricted_key(fake_stripe)
    response = post_form(client, PAGE, PAGE + "/key", {"key": key, "webhook_secret": ""})
    assert response.status_code in (302, 303)
    assert response.headers["location"] == PAGE + "?notice=connected"
    page = client.get(response.headers["location"]).text
    assert "Stripe is connected" in page
    assert 'class="mode-badge testmode"' in page
    # The backfill ran (jobs run inline here): 1 product, 1 price, 3 customers, 3 subscriptions,
    # 3 paid first invoices.
    assert "Copied 11 objects from Stripe" in page
    assert counts(db, acme.id)["stripe_customers"] == 3
    assert box.decrypt(saved_connection(db)["api_key_enc"]) == key


def test_the_page_names_the_missing_permission_and_saves_nothing(client, db, olivia, acme, fake_stripe):
    login(client, olivia)
    key = restricted_key(fake_stripe, invoices="read")
    response = post_form(client, PAGE, PAGE + "/key", {"key": key})
    assert response.status_code == 400
    assert "set Invoices to Write" in response.text
    assert saved_connection(db) is None
    assert "Check key and connect" in response.text  # the form is still there to try again


def test_the_page_refuses_a_secret_key(client, db, olivia, acme, fake_stripe):
    login(client, olivia)
    response = post_form(client, PAGE, PAGE + "/key", {"key": fake_stripe.secret_key})
    assert response.status_code == 400 and "full secret key" in response.text
    assert len(fake_stripe.requests) == 0 and saved_connection(db) is None


def test_a_member_cannot_connect(client, db, acme, marco, fake_stripe):
    add_member(db, acme, marco.admin.email, "member")
    login(client, marco)
    assert "Only an owner of this workspace can connect Stripe" in client.get(PAGE).text
    response = post_form(client, PAGE, PAGE + "/key", {"key": restricted_key(fake_stripe)})
    assert response.status_code == 403
    assert saved_connection(db) is None


# --- backstop stripe connect ------------------------------------------------------------------


@pytest.fixture
def cli(settings, db, acme, fake_stripe):
    migrate(settings.db_path)
    env = cli_env(settings.data_dir, settings, fake_stripe)
    return lambda *args, stdin=None: backstop_cli(env, "stripe", *args, stdin=stdin)


def test_the_cli_connects_and_syncs(cli, db, box, acme, fake_stripe):
    price = fake_stripe.create_price(900)
    fake_stripe.seed_customers(2, price=price["id"])
    key = restricted_key(fake_stripe)
    result = cli("connect", "--workspace", "acme", stdin=f"{key}\nwhsec_acme_1234567890\n")
    assert result.returncode == 0, result.stderr
    assert "warning" not in result.stderr
    assert "Connected acme in test mode; events arrive by webhooks." in result.stdout
    assert "Synced 8 objects" in result.stdout
    row = saved_connection(db)
    assert box.decrypt(row["api_key_enc"]) == key and row["polling"] == 0
    assert connection.webhook_secrets(db, box, acme.id) == ["whsec_acme_1234567890"]
    assert counts(db, acme.id)["stripe_subscriptions"] == 2


def test_the_cli_names_the_missing_permission(cli, db, fake_stripe):
    result = cli("connect", "--workspace", "acme", "--key", restricted_key(fake_stripe, invoices="read"))
    assert result.returncode == 2
    assert "set Invoices to Write" in result.stderr and "Traceback" not in result.stderr
    assert saved_connection(db) is None


def test_the_cli_refuses_a_secret_key_and_a_revoked_key(cli, db, fake_stripe):
    refused = cli("connect", "--workspace", "acme", "--key", fake_stripe.secret_key)
    assert refused.returncode == 2 and "full secret key" in refused.stderr
    assert len(fake_stripe.requests) == 0
    key = restricted_key(fake_stripe)
    fake_stripe.revoke_key(key)
    revoked = cli("connect", "--workspace", "acme", "--key", key)
    assert revoked.returncode == 2 and "Stripe doesn't accept this key" in revoked.stderr
    assert saved_connection(db) is None


def test_the_cli_reads_the_secrets_from_files(cli, db, box, acme, fake_stripe, tmp_path):
    key = restricted_key(fake_stripe)
    (tmp_path / "key").write_text(key + "\n")
    (tmp_path / "whsec").write_text("whsec_from_a_file_123456\n")
    result = cli(
        "connect", "--workspace", "acme", "--key-file", str(tmp_path / "key"),
        "--webhook-secret-file", str(tmp_path / "whsec"), "--no-sync",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert box.decrypt(saved_connection(db)["api_key_enc"]) == key
    assert connection.webhook_secrets(db, box, acme.id) == ["whsec_from_a_file_123456"]
    assert "warning" not in result.stderr


def test_the_old_flags_still_work_and_say_why_they_should_not_be_used(cli, db, box, acme, fake_stripe):
    key = restricted_key(fake_stripe)
    result = cli(
        "connect",
        "--workspace",
        "acme",
        "--key",
        key,
        "--webhook-secret",
        "whsec_acme_1234567890",
        "--no-sync",
    )
    assert result.returncode == 0, result.stderr
    assert box.decrypt(saved_connection(db)["api_key_enc"]) == key
    warning = " ".join(result.stderr.split())
    assert "--key puts the secret in the process list" in warning and "--key-file" in warning
    assert "--webhook-secret puts the secret in the process list" in warning


def test_the_cli_says_how_to_give_the_key_when_there_is_none(cli, db):
    result = cli("connect", "--workspace", "acme", stdin="")
    assert result.returncode == 2
    assert "No restricted key on standard input" in result.stderr
    assert saved_connection(db) is None


def test_at_a_terminal_the_key_is_asked_for_without_echoing_it(settings, db, acme, fake_stripe):
    import os
    import pty
    import time

    from tests.conftest import VENV_BIN

    key = restricted_key(fake_stripe)
    env = cli_env(settings.data_dir, settings, fake_stripe)
    pid, fd = pty.fork()
    if pid == 0:  # the child: backstop at a terminal
        os.execve(  # noqa: S606 - the program itself, exactly as an operator starts it
            str(VENV_BIN / "backstop"),
            ["backstop", "stripe", "connect", "--workspace", "acme", "--no-sync"],
            env,
        )
    seen = b""

    def read_until(text: bytes) -> None:
        nonlocal seen
        deadline = time.monotonic() + 30
        while text not in seen and time.monotonic() < deadline:
            try:
                seen += os.read(fd, 1024)
            except OSError:
                break

    read_until(b"Restricted key")
    os.write(fd, key.encode() + b"\n")
    read_until(b"Webhook signing secret")
    os.write(fd, b"\n")
    read_until(b"events arrive by")
    os.waitpid(pid, 0)
    os.close(fd)
    assert b"Connected acme in test mode; events arrive by polling" in seen
    assert key.encode() not in seen  # the terminal never showed it
    assert saved_connection(db) is not None


def test_the_cli_connects_in_live_mode_with_a_live_key(cli, db, fake_stripe):
    result = cli(
        "connect", "--workspace", "acme", "--key", restricted_key(fake_stripe, livemode=True), "--no-sync"
    )
    assert result.returncode == 0, result.stderr
    assert "in live mode" in result.stdout
    assert saved_connection(db)["livemode"] == 1


# --- reconnecting ------------------------------------------------------------------------------


def test_a_refused_key_is_replaced_from_the_page_keeping_the_mirror(client, db, olivia, acme, fake_stripe):
    fake_stripe.seed_customers(3)
    login(client, olivia)
    old_key = restricted_key(fake_stripe)
    post_form(client, PAGE, PAGE + "/key", {"key": old_key})
    fake_stripe.revoke_key(old_key)  # rolled in Stripe
    post_form(client, PAGE, PAGE + "/resync", {})  # the next sync is refused
    page = client.get(PAGE).text
    assert "The sync stopped: Stripe refused the key" in page and "banner-red" in page
    assert "Reconnect" in page and "Check key and connect" in page

    response = post_form(client, PAGE, PAGE + "/key", {"key": restricted_key(fake_stripe)})
    assert response.headers["location"] == PAGE + "?notice=connected"
    page = client.get(PAGE).text
    assert "banner-red" not in page and "Copied 3 objects from Stripe" in page
    assert saved_connection(db)["status"] == "live"
    assert counts(db, acme.id)["stripe_customers"] == 3


def test_switching_mode_starts_from_an_empty_mirror(db, box, settings, acme, fake_stripe):
    from tests.stripe_sync.support import run_backfill

    fake_stripe.seed_customers(2)
    fake_stripe.seed_customers(1, livemode=True)
    test_run = service.connect_restricted_key(db, box, settings, acme.id, "acme", restricted_key(fake_stripe))
    run_backfill(db, box, settings, test_run.backfill_id)
    assert counts(db, acme.id)["stripe_customers"] == 2

    live_key = restricted_key(fake_stripe, livemode=True)
    live_run = service.connect_restricted_key(db, box, settings, acme.id, "acme", live_key)
    assert counts(db, acme.id)["stripe_customers"] == 0  # no test-mode customer among live ones
    run_backfill(db, box, settings, live_run.backfill_id)
    assert counts(db, acme.id)["stripe_customers"] == 1
    assert connection.get(db, acme.id).mode == "livemode"


def test_with_a_public_address_it_creates_its_webhook_endpoint_and_removes_it_on_disconnect(
    db, box, settings, acme, fake_stripe
):
    from dataclasses import replace

    public = replace(settings, base_url="https://backstop.example.com")
    key = restricted_key(fake_stripe)
    result = service.connect_restricted_key(db, box, public, acme.id, "acme", key, create_endpoint=True)
    assert result.webhook == "created"
    [endpoint] = fake_stripe.store().all("webhook_endpoint")
    assert endpoint["url"] == "https://backstop.example.com/stripe/webhooks/acme"
    assert set(endpoint["enabled_events"]) == set(service.webhook_event_types())
    conn = connection.get(db, acme.id)
    assert conn.has_webhook_secret and not conn.polling and conn.webhook_endpoint_id == endpoint["id"]
    assert connection.webhook_secrets(db, box, acme.id) == [
        fake_stripe.state.endpoint_secrets[endpoint["id"]]
    ]

    service.disconnect(db, box, public, acme.id)
    assert fake_stripe.requests.filter("DELETE", f"/v1/webhook_endpoints/{endpoint['id']}")[0].status == 200
    assert list(fake_stripe.store().all("webhook_endpoint")) == []
