"""The Overview: the Get set up checklist, the banners, the mode line and the key numbers."""

from __future__ import annotations

import re

from tests.builders import SEED_TITLES, connect_stripe, put_open_campaign, put_row, text_of
from tests.conftest import post_form


def overview_text(client) -> str:
    response = client.get("/w/acme/overview")
    assert response.status_code == 200
    return text_of(response.text)


def step_states(html: str) -> dict[int, bool]:
    return {
        int(number): "done" in classes.split()
        for classes, number in re.findall(r'<li class="([^"]*)" data-step="(\d)"', html)
    }


def test_it_lists_the_five_steps_with_the_seeds_titles_in_order(as_olivia):
    text = overview_text(as_olivia)
    assert "Get set up" in text
    positions = [text.index(title) for title in SEED_TITLES]
    assert positions == sorted(positions)
    assert "0 of 5 done" in text
    assert step_states(as_olivia.get("/w/acme/overview").text) == dict.fromkeys(range(1, 6), False)


def test_it_ticks_step_four_by_hand_and_unticks_it_by_hand(as_olivia):
    done = post_form(as_olivia, "/w/acme/overview", "/w/acme/checklist/embed", {"done": "1"})
    assert done.status_code in (302, 303)
    assert done.headers["location"] == "/w/acme/overview#get-set-up"
    html = as_olivia.get("/w/acme/overview").text
    assert step_states(html)[4] is True
    assert "1 of 5 done" in text_of(html)
    assert "Mark as not done" in html

    undone = post_form(as_olivia, "/w/acme/overview", "/w/acme/checklist/embed", {"done": "0"})
    assert undone.status_code in (302, 303)
    html = as_olivia.get("/w/acme/overview").text
    assert step_states(html)[4] is False
    assert "0 of 5 done" in text_of(html)
    assert "Mark as done" in html


def test_it_links_each_open_step_to_where_it_is_done(as_olivia):
    html = as_olivia.get("/w/acme/overview").text
    for href in ("/w/acme/settings/stripe", "/w/acme/cancel-flows", "/w/acme/recovery"):
        assert f'href="{href}"' in html


def test_it_shows_the_connect_banner_until_stripe_is_connected(as_olivia, db, acme):
    text = overview_text(as_olivia)
    assert "Stripe isn't connected yet" in text
    assert "Stripe not connected" in text
    connect_stripe(db, acme.id, "live", 0)
    text = overview_text(as_olivia)
    assert "Stripe isn't connected yet" not in text
    assert "1 of 5 done" in text


def test_it_shows_the_connect_banner_on_every_workspace_page(as_olivia):
    for path in ("/w/acme/settings", "/w/acme/settings/members", "/w/acme/customers"):
        assert "Stripe isn't connected yet" in text_of(as_olivia.get(path).text), path


def test_it_turns_the_banner_red_when_the_connection_is_revoked(as_olivia, db, acme):
    connect_stripe(db, acme.id, "revoked", 0)
    html = as_olivia.get("/w/acme/overview").text
    assert "banner-red" in html
    assert "Backstop can no longer reach your Stripe account" in text_of(html)
    assert "Reconnect Stripe" in text_of(html)


def test_it_shows_the_mode_stripe_was_connected_in_under_the_name(as_olivia, db, acme):
    connect_stripe(db, acme.id, "live", 1)
    text = overview_text(as_olivia)
    assert "Acme Analytics · livemode" in text
    db.execute("UPDATE stripe_connections SET livemode = 0")
    assert "Acme Analytics · testmode" in overview_text(as_olivia)


def test_it_folds_the_checklist_once_every_step_is_done(as_olivia, db, acme):
    connect_stripe(db, acme.id, "live", 0)
    put_row(db, "send_domains", {"workspace_id": acme.id, "domain": "mail.acme.test", "status": "verified"})
    put_row(db, "cancel_flow_versions", {"workspace_id": acme.id})
    put_open_campaign(db, acme.id)
    post_form(as_olivia, "/w/acme/overview", "/w/acme/checklist/embed", {"done": "1"})
    text = overview_text(as_olivia)
    assert "Setup complete" in text
    assert "Mark as done" not in text


def test_it_shows_the_key_numbers_at_zero_on_a_new_workspace(as_olivia):
    text = overview_text(as_olivia)
    for label in ("Recovered · 30d", "Recovery rate · 30d", "Saved · 30d", "Net · 30d", "Active MRR"):
        assert label in text
    assert "0 of 0 closed campaigns" in text


def test_it_remembers_the_last_workspace_opened(as_olivia, db, box, olivia):
    from backstop.workspaces.workspaces import create_workspace

    create_workspace(db, box, "Zebra Labs", olivia.admin, "zebra")
    assert as_olivia.get("/", follow_redirects=False).headers["location"] == "/w/acme/overview"
    as_olivia.get("/w/zebra/overview")
    assert as_olivia.get("/", follow_redirects=False).headers["location"] == "/w/zebra/overview"


def test_it_shows_the_first_sync_progressing_on_the_overview(as_olivia, db, acme):
    from backstop.stripe_sync import backfill

    backfill.start(db, acme.id)
    db.execute(
        "UPDATE stripe_backfills SET stage = 'customers', counts = '{\"products\": 3, \"customers\": 200}'"
    )
    text = as_olivia.get("/w/acme/overview").text
    assert "Copying your Stripe account" in text and "203 objects so far" in text
    db.execute("UPDATE stripe_backfills SET finished_at = '2026-11-25T00:00:00+00:00'")
    assert "Copying your Stripe account" not in as_olivia.get("/w/acme/overview").text


def test_it_warns_while_the_publishable_key_is_missing(as_olivia, db, acme):
    connect_stripe(db, acme.id)
    html = as_olivia.get("/w/acme/overview").text
    assert 'id="publishable-key-missing"' in html
    assert "add your Stripe publishable key" in text_of(html)
    db.execute(
        "UPDATE stripe_connections SET publishable_key = 'pk_test_abcdefghijkl' WHERE workspace_id = ?",
        [acme.id],
    )
    assert 'id="publishable-key-missing"' not in as_olivia.get("/w/acme/overview").text


def test_it_draws_twelve_weeks_of_recovered_revenue_with_the_numbers(as_olivia, db, acme):
    from datetime import timedelta

    from backstop import clock

    assert "Nothing recovered in the last 12 weeks yet" in overview_text(as_olivia)
    for days_ago, amount, currency in (
        (1, 4900, "usd"),
        (2, 1500, "usd"),
        (20, 9900, "usd"),
        (3, 2000, "eur"),
        (200, 7700, "usd"),
    ):
        put_row(
            db,
            "campaigns",
            {
                "workspace_id": acme.id,
                "status": "recovered",
                "currency": currency,
                "amount_due": amount,
                "closed_at": clock.iso(clock.now() - timedelta(days=days_ago)),
            },
        )
    html = as_olivia.get("/w/acme/overview").text
    section = html[html.index('id="recovered-trend"') :].split("</section>", 1)[0]
    assert section.count('class="trend-bar"') == 12
    numbers = text_of(section.split("<details", 1)[1])
    assert "$99.00" in numbers and "€20.00" in numbers and "$77.00" not in numbers  # 200 days is out
    assert "the chart shows USD, the table every currency" in text_of(section)


def test_recovery_rate_says_what_it_leaves_out_on_hover(as_olivia):
    html = as_olivia.get("/w/acme/overview").text
    assert re.search(r'<abbr class="kpi-help" title="[^"]*still in flight don&#39;t count', html)
