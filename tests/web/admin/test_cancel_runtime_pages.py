"""Cancel flows → Simulate and Analytics, and the cancel figures on the Overview."""

from __future__ import annotations

import html
import re
from dataclasses import replace
from urllib.parse import urlencode

import pytest

from backstop.cancel_flows import analytics, flows, sessions
from backstop.lib import stats
from backstop.stripe_sync import connection
from tests.builders import text_of
from tests.cancel_flows.stories import flow_document, publish_flow, subscriber

HIDDEN_RE = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


@pytest.fixture
def settings(settings, fake_stripe):
    return replace(settings, stripe_api_base=fake_stripe.url, stripe_connect_base=fake_stripe.url)


@pytest.fixture
def live(db, box, acme, fake_stripe):
    connection.save_key_connection(
        db, box, acme.id, fake_stripe.add_key(), False, webhook_secret=None, polling=True
    )
    return publish_flow(db, acme.id, flow_document())


def _sim(client, page, action, **fields):
    hidden = {k: html.unescape(v) for k, v in HIDDEN_RE.findall(page.text)}
    action_url = re.search(r'<form method="get" action="([^"]+)"', page.text).group(1)
    return client.get(f"{action_url}?{urlencode({**hidden, 'action': action, **fields})}")


def test_simulate_walks_the_flow_and_says_what_stripe_would_do(as_olivia, db, acme, live, fake_stripe):
    flow, version = live
    before = len(fake_stripe.requests)
    page = as_olivia.get(f"/w/acme/cancel-flows/{flow.id}/simulate/frame?version={version.id}")
    assert page.status_code == 200 and "Simulating version 1 of SaaS Standard" in page.text
    assert "Before you go" in page.text and "x-frame-options" in page.headers
    page = _sim(as_olivia, page, "reason", reason="too_expensive")
    assert "Stay for 30% less" in page.text
    done = _sim(as_olivia, page, "accept")
    words = text_of(done.text)
    assert "Create a single-use coupon (30% off, for 3 months) for this session" in words
    assert "discounts already on the subscription stay" in words
    cancel = _sim(as_olivia, _sim(as_olivia, page, "cancel"), "cancel")
    assert "cancel_at_period_end=true, with cancellation_details[feedback]=too_expensive" in text_of(
        cancel.text
    )
    keep = _sim(as_olivia, page, "keep")
    assert "No change in Stripe: the customer keeps the subscription as it is." in text_of(keep.text)
    pause = _sim(as_olivia, _sim(as_olivia, page, "decline"), "accept")
    assert "pause_collection[behavior]=void with resumes_at" in text_of(pause.text)
    assert db.execute("SELECT COUNT(*) FROM cancel_sessions").fetchone()[0] == 0
    assert len(fake_stripe.requests) == before


def test_the_simulate_tab_frames_the_chosen_version(as_olivia, acme, live):
    flow, version = live
    page = as_olivia.get(f"/w/acme/cancel-flows/{flow.id}/simulate?version={version.id}")
    assert page.status_code == 200
    assert f'src="/w/acme/cancel-flows/{flow.id}/simulate/frame?version={version.id}"' in page.text
    assert "Version 1 (live, 100% of traffic)" in text_of(page.text)
    frame = as_olivia.get(f"/w/acme/cancel-flows/{flow.id}/simulate/frame")
    assert frame.headers["x-frame-options"] == "SAMEORIGIN"
    assert "frame-ancestors 'self'" in frame.headers["content-security-policy"]


def test_simulate_the_draft_and_refuse_another_workspaces_flow(as_olivia, db, acme, live, globex_flow):
    flow, _ = live
    draft = as_olivia.get(f"/w/acme/cancel-flows/{flow.id}/simulate/frame")
    assert draft.status_code == 200 and "Simulating the draft of SaaS Standard" in draft.text
    assert as_olivia.get(f"/w/acme/cancel-flows/{globex_flow}/simulate/frame").status_code == 404
    tampered = as_olivia.get(f"/w/acme/cancel-flows/{flow.id}/simulate/frame?state=%%%&action=accept&step=x")
    assert tampered.status_code == 200 and "Before you go" in tampered.text


@pytest.fixture
def globex_flow(db, box, marco):
    from backstop.workspaces.workspaces import create_workspace

    globex, _ = create_workspace(db, box, "Globex", marco.admin, "globex")
    return publish_flow(db, globex.id, flow_document())[0].id


def _finish(db, box, settings, acme, who, forms):
    gw = lambda ws: connection.gateway(db, box, settings, ws, max_attempts=1)  # noqa: E731
    session = sessions.open_session(db, acme, who.customer["id"], None, return_url=None, source="hosted")
    for form in forms:
        _, action_id = sessions.answer(db, session.key, form)
        if action_id:
            sessions.run_action(db, action_id, gw)
    return session


def test_analytics_and_overview_show_saves_reasons_and_money(
    as_olivia, db, box, settings, acme, live, fake_stripe
):
    saved = subscriber(db, acme.id, fake_stripe, email="saved@example.com")
    _finish(
        db,
        box,
        settings,
        acme,
        saved,
        [
            {
                "action": "reason",
                "reason": "too_expensive",
                "step": "survey",
                "free_text": "<b>Budget</b> is tight",
            },
            {"action": "accept", "step": "offer_price"},
        ],
    )
    gone = subscriber(db, acme.id, fake_stripe, email="gone@example.com")
    _finish(
        db,
        box,
        settings,
        acme,
        gone,
        [
            {"action": "reason", "reason": "other", "step": "survey"},
            {"action": "cancel", "step": "stories"},
            {"action": "cancel", "step": "confirm"},
        ],
    )

    page = as_olivia.get("/w/acme/cancel-flows/analytics")
    assert page.status_code == 200
    words = text_of(page.text)
    assert "Opened the cancel flow 2" in words and "Accepted an offer 1" in words and "Canceled 1" in words
    assert "Version 1 2 1 50.0% $21.00" in words
    assert "It's too expensive too_expensive 1 · 50.0%" in words
    assert "“<b>Budget</b> is tight”" in words and "<b>Budget</b>" not in page.text  # escaped
    assert "offer_price · variant a (discount) 1 1 100.0% $21.00" in words

    overview = text_of(as_olivia.get("/w/acme/overview").text)
    assert "$21.00 Saved · 30d" in overview
    assert "-$9.00 Net · 30d" in overview
    assert "Cancel funnel · 30d" in overview and "Opened the cancel flow 2" in overview
    assert "Top cancel reasons · 30d" in overview and "It's too expensive 1 · 50.0%" in overview


def test_analytics_compares_two_versions_and_the_holdout(as_olivia, db, acme, live):
    flow, v1 = live
    v2 = flows.publish(db, acme.id, flow.id).version
    rows = []
    # 400 sessions per version: v1 saves 30 %, v2 saves 20 %; the holdout saves 10 % of 100.
    for arm, version, n, saves in (("v1", v1, 400, 120), ("v2", v2, 400, 80), ("holdout", v1, 100, 10)):
        for i in range(n):
            rows.append(
                (
                    acme.id,
                    f"{arm}-{i}",
                    "hosted",
                    f"cus_{arm}_{i}",
                    flow.id,
                    version.id,
                    version.version,
                    arm,
                    "saved_other" if i < saves else "canceled",
                    "finished",
                    "usd",
                    1000,
                    1000 if i < saves else 0,
                    "2026-12-01T00:00:00+00:00",
                )
            )
    db.conn.executemany(
        "INSERT INTO cancel_sessions (workspace_id, key_hash, source, customer_id, flow_id, version_id, version, arm, "
        "outcome, state, currency, mrr_at_stake, mrr_saved, opened_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    words = text_of(as_olivia.get("/w/acme/cancel-flows/analytics?days=all").text)
    assert "Version 1 against Version 2" in words and "p-value 0.001" in words
    assert "each arm needs 313 sessions" not in words  # enough sessions: decided
    assert "The difference is significant" in words and "Version 1 saves more" in words
    assert "fixed-horizon test" in words
    assert "Holdout lift: +15.0 points." in words


def test_the_z_test_and_sessions_needed_match_the_formulas():
    z, p = stats.two_proportion(400, 120, 400, 80)
    assert round(z, 3) == 3.266 and round(p, 4) == 0.0011
    assert stats.trials_needed(0.3, 0.2) == 291
    assert stats.trials_needed(0.2, 0.2) is None
    assert stats.two_proportion(0, 0, 10, 1) == (None, None)
    small = analytics.compare(
        analytics.RateRow("v1", "Version 1", 20, 6, {}), analytics.RateRow("v2", "Version 2", 20, 4, {})
    )
    assert (
        small.needed_per_arm == 291 and small.more_needed == {"v1": 271, "v2": 271} and not small.significant
    )
