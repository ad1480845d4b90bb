"""Cancel flows → Embed on your site: the snippet for this instance and slug, modal or redirect,
the tested signer samples, the Stripe-portal hint and checklist step 4 ticking itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from backstop.embed import origins, snippets
from backstop.embed.tokens import check
from backstop.workspaces import checklist
from tests.builders import text_of
from tests.cancel_flows.stories import subscriber
from tests.conftest import post_form

PAGE = "/w/acme/cancel-flows/embed"


def test_the_modal_snippet_is_pre_filled_and_warns_without_origins(as_olivia, settings):
    page = as_olivia.get(PAGE)
    assert page.status_code == 200
    text = text_of(page.text)
    assert f'src="{settings.public_url}/embed.js"' in text
    assert "Backstop.cancel(" in text and "Backstop.q.push" in text
    assert "No allowed origins yet" in text
    assert "Connect Stripe first" in text


def test_the_redirect_snippet_names_the_sessions_api(as_olivia, settings):
    text = text_of(as_olivia.get(PAGE + "?mode=redirect").text)
    assert f"{settings.public_url}/api/v1/embed/sessions" in text and "return_url" in text
    assert "/embed.js" not in text and "Backstop.cancel(" not in text


@pytest.mark.parametrize("language", ["python", "node"])
def test_the_signer_samples_make_tokens_backstop_accepts(language, db, box, acme, fake_stripe, tmp_path):
    from backstop.stripe_sync import connection
    from backstop.workspaces.workspaces import embed_secret

    connection.save_key_connection(
        db, box, acme.id, fake_stripe.add_key(), False, webhook_secret=None, polling=True
    )
    sam = subscriber(db, acme.id, fake_stripe)
    env = {**os.environ, "WORKSPACE_SLUG": "acme", "EMBED_SECRET": embed_secret(db, box, acme.id)}
    code = snippets.signer(language)
    if language == "python":
        script = tmp_path / "signer.py"
        script.write_text(
            code + f"\nprint(backstop_token({sam.customer['id']!r}, {sam.subscription['id']!r}))\n"
        )
        command = [sys.executable, str(script)]
    else:
        script = tmp_path / "signer.mjs"
        script.write_text(
            code
            + f"\nconsole.log(backstopToken({json.dumps(sam.customer['id'])}, {json.dumps(sam.subscription['id'])}));\n"
        )
        command = ["node", str(script)]
    token = subprocess.run(
        command, env=env, capture_output=True, text=True, check=True, timeout=30
    ).stdout.strip()
    seen = check(db, box, token)
    assert seen.valid, seen.message
    assert (seen.customer_id, seen.subscription_id) == (sam.customer["id"], sam.subscription["id"])


def test_docs_show_the_same_signers():
    from pathlib import Path

    docs = (Path(__file__).resolve().parents[2] / "docs" / "embed.md").read_text()
    for language in ("python", "node"):
        assert snippets.signer(language).strip() in docs


@pytest.fixture
def as_olivia_connected(web, olivia):
    """Olivia signed in to an app whose Stripe calls go to the fake Stripe."""
    from tests.conftest import login

    login(web, olivia)
    return web


def test_the_stripe_portal_hint_and_step_4_ticking_itself(
    as_olivia_connected, db, box, acme, fake_stripe, stripe_settings, connected
):
    from backstop.cancel_flows import sessions
    from backstop.stripe_sync import connection

    as_olivia = as_olivia_connected

    config = fake_stripe.add_portal_configuration(cancel_enabled=True)
    origins.add_origin(db, acme.id, "https://app.acme.test")
    page = text_of(as_olivia.get(PAGE).text)
    assert "Still on: Stripe's customer portal lets customers cancel" in page
    steps = checklist.steps(db, acme.id, "acme", None)
    assert (
        steps[3].hint.startswith("Stripe's customer portal still lets customers cancel") and not steps[3].done
    )

    connection.gateway(db, box, stripe_settings, acme.id).post(
        f"/v1/billing_portal/configurations/{config['id']}",
        {"features": {"subscription_cancel": {"enabled": "false"}}},
    )
    post_form(as_olivia, PAGE, PAGE + "/check-stripe-portal", {})
    page = text_of(as_olivia.get(PAGE).text)
    assert "Off: Stripe's customer portal no longer lets customers cancel" in page
    assert not checklist.steps(db, acme.id, "acme", None)[3].done  # no session from the site yet

    sam = subscriber(db, acme.id, fake_stripe)
    sessions.open_session(db, {"id": acme.id}, sam.customer["id"], None, return_url=None, source="embed")
    assert checklist.steps(db, acme.id, "acme", None)[3].done
    assert "is done" in text_of(as_olivia.get(PAGE).text)
    overview = text_of(as_olivia.get("/w/acme").text)
    assert "no longer lets customers cancel" in overview or "Setup complete" in overview
