"""Settings → Retry policy, Email settings and Pause recovery, as an owner and a member see them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
import time_machine
from litestar.testing import TestClient

from backstop import clock
from backstop.recovery import campaigns
from backstop.workspaces import workspaces as ws_domain
from backstop.workspaces.workspaces import workspace_for
from tests.conftest import login, post_form

POLICY = "/w/acme/settings/retry-policy"
EMAIL = "/w/acme/settings/email"
PAUSE = "/w/acme/settings/pause-recovery"

GOOD_POLICY = {
    "soft_retries": "2",
    "soft_gaps_days": "2, 4",
    "soft_terminal_action": "mark_unpaid",
    "hard_retries": "2",
    "hard_gaps_days": "4",
    "hard_terminal_action": "leave_past_due",
    "never_terminal_action": "cancel",
    "max_attempts": "5",
    "window_days": "20",
    "retry_on_new_card": "1",
    "final_grace_days": "5",
}
GOOD_EMAIL = {"day_1": "0", "day_2": "2", "day_3": "6", "day_4": "12"}


@pytest.fixture
def client(stripe_settings, db) -> Iterator[TestClient]:
    from backstop.web.app import create_app

    with TestClient(app=create_app(stripe_settings, run_jobs=False), base_url="http://127.0.0.1") as c:
        yield c


def test_it_shows_the_policy_as_a_table_a_founder_can_read(client, olivia, acme):
    login(client, olivia)
    page = client.get(POLICY)
    assert page.status_code == 200
    assert "3 retries, on days 3, 8, 15 after the first failure" in page.text
    assert "1 retry, on day 3 after the first failure, then wait for a new card" in page.text
    assert "No retries: wait for a new card" in page.text
    assert "At most 6 attempts per invoice in 30 days" in page.text
    # What Stripe would have done instead, and the network limits in words.
    assert "Retried up to 8 times within 2 weeks" in page.text
    assert "Visa forbids any new attempt on a card whose issuer will never approve it" in page.text
    assert "Mastercard charges excessive-retry fees past 35 declines of one amount in 30 days" in page.text
    assert "coming soon" not in page.text.lower()


def test_an_owner_saves_rules_per_decline_class_and_the_table_follows(client, olivia, db, acme):
    login(client, olivia)
    saved = post_form(client, POLICY, POLICY, GOOD_POLICY)
    assert saved.status_code in (302, 303)
    policy = campaigns.get_policy(db, acme.id)
    assert (policy.rule("soft").retries, policy.rule("soft").gaps_days) == (2, (2, 4))
    assert (policy.rule("hard").retries, policy.rule("hard").gaps_days) == (2, (4,))
    assert policy.terminal_action("soft") == "mark_unpaid"
    assert policy.terminal_action("hard") == "leave_past_due"
    assert policy.terminal_action("never") == "cancel"
    assert (policy.max_attempts, policy.window_days, policy.let_stripe_retry) == (5, 20, False)
    page = client.get(saved.headers["location"])
    assert (
        "Retry policy saved" in page.text and "2 retries, on days 2, 6 after the first failure" in page.text
    )
    assert "2 retries, on days 4, 8 after the first failure" in page.text
    assert "Mark the invoice uncollectible" in page.text and "Leave the subscription past due" in page.text


def test_it_refuses_a_rule_past_the_network_ceiling_with_a_sentence_saying_why(client, olivia, db, acme):
    login(client, olivia)
    never = post_form(client, POLICY, POLICY, {**GOOD_POLICY, "never_retries": "1"})
    assert never.status_code == 400
    assert (
        '<p class="error" id="e-never_retries" role="alert">Never-retry declines can&#39;t be retried.'
        in never.text
    )
    assert "Visa forbids any new attempt" in never.text
    many = post_form(client, POLICY, POLICY, {**GOOD_POLICY, "soft_retries": "20", "max_attempts": "20"})
    assert many.status_code == 400
    assert '<p class="error" id="e-max_attempts">Attempt cap: 1 to 15. Visa allows at most 15' in many.text
    assert '<p class="error" id="e-soft_retries">Soft declines: 0 to 14 retries. Visa allows' in many.text
    late = post_form(client, POLICY, POLICY, {**GOOD_POLICY, "soft_gaps_days": "10, 15"})
    assert late.status_code == 400
    assert "the last retry would fall on day 25, after the 20-day window" in late.text
    assert 'value="10, 15"' in late.text  # what they typed stays in the form
    words = post_form(client, POLICY, POLICY, {**GOOD_POLICY, "hard_retries": "soon"})
    assert words.status_code == 400 and "enter a whole number" in words.text
    assert campaigns.get_policy(db, acme.id).rule("soft").gaps_days == (3, 5, 7)


def test_a_member_sees_the_policy_but_cannot_change_it(client, olivia, marco, db, acme):
    ws_domain.add_member(db, workspace_for(db, olivia.admin, "acme"), marco.admin.email, "member", None)
    login(client, marco)
    page = client.get(POLICY)
    assert page.status_code == 200 and "Only an owner can change the retry policy" in page.text
    refused = post_form(client, POLICY, POLICY, GOOD_POLICY)
    assert refused.status_code == 403
    assert campaigns.get_policy(db, acme.id).max_attempts == 6


def test_email_settings_change_timing_and_copy_and_dunning_uses_them(
    client, olivia, db, fake_stripe, loop, connected
):
    login(client, olivia)
    nav = client.get(EMAIL)
    assert ">Email settings</a>" in nav.text
    copy = {
        **GOOD_EMAIL,
        "subject_1": "Card trouble at Acme <3",
        "intro_1": "Hey! Your card bounced <b>again</b>.",
    }
    assert post_form(client, EMAIL, EMAIL, copy).status_code in (302, 303)
    assert campaigns.get_policy(db, connected.id).dunning_days == (0, 2, 6, 12)
    preview = client.get(f"{EMAIL}/preview?step=1")
    assert "Card trouble at Acme &lt;3" in preview.text and "&lt;b&gt;again&lt;/b&gt;" in preview.text
    story = fake_stripe.customer_with_declining_card("insufficient_funds")
    fake_stripe.renewal_fails(story.subscription["id"])
    loop.settle()
    subject, html, text = db.execute("SELECT subject, html, text FROM email_messages").fetchone()
    assert subject == "Card trouble at Acme <3"
    assert "Your card bounced &lt;b&gt;again&lt;/b&gt;." in html and "<b>again</b>" not in html
    assert "Hey! Your card bounced <b>again</b>." in text
    campaign = db.execute("SELECT id FROM campaigns").fetchone()[0]
    dunning = {s["seq"]: s["due_at"] for s in campaigns.pending_steps_of_kind(db, campaign, "dunning")}
    assert sorted(dunning) == [2, 3, 4]
    opened = clock.parse(campaigns.get(db, connected.id, campaign)["first_failed_at"])
    assert clock.parse(dunning[2]) == opened + timedelta(days=2)


def test_email_settings_refuse_days_out_of_order(client, olivia, db, acme):
    login(client, olivia)
    page = post_form(client, EMAIL, EMAIL, {**GOOD_EMAIL, "day_3": "1"})
    assert page.status_code == 400
    assert "Dunning: four emails on increasing days between day 0 and day 30." in page.text
    assert campaigns.get_policy(db, acme.id).dunning_days == (0, 3, 7, 14)
    long = post_form(client, EMAIL, EMAIL, {**GOOD_EMAIL, "subject_2": "x" * 151})
    assert long.status_code == 400 and "Keep the subject under 150 characters" in long.text


def test_pausing_shows_the_amber_banner_everywhere_and_holds_due_work(
    client, olivia, db, fake_stripe, loop, connected
):
    story = fake_stripe.customer_with_declining_card("insufficient_funds")
    invoice = fake_stripe.renewal_fails(story.subscription["id"])
    loop.settle()
    login(client, olivia)
    assert post_form(client, PAUSE, PAUSE, {"paused": "1"}).status_code in (302, 303)
    for page in ("/w/acme/overview", "/w/acme/customers", "/w/acme/recovery", "/w/acme/emails"):
        html = client.get(page).text
        assert 'class="banner banner-amber"' in html, page
        assert "Recovery is paused by olivia@acme.test" in html
        assert f'href="{PAUSE}">Resume recovery' in html
    pause_page = client.get(PAUSE).text
    assert "Recovery is paused</strong> since" in pause_page and "by olivia@acme.test" in pause_page

    with time_machine.travel(clock.now() + timedelta(days=4), tick=False):
        loop.settle()  # retry 1 and email 2 come due, and wait
        assert fake_stripe.requests.filter("POST", f"/v1/invoices/{invoice['id']}/pay") == []
        assert [r[0] for r in db.execute("SELECT kind FROM email_messages")] == ["dunning_1"]
        waiting = client.get(PAUSE).text
        assert '<tr><td>Charge retries</td><td class="num">1</td></tr>' in waiting
        assert '<tr><td>Dunning emails</td><td class="num">1</td></tr>' in waiting
        resumed = post_form(client, PAUSE, PAUSE, {"paused": "0"})
        assert resumed.status_code in (302, 303)
        # Resuming runs what was held at once, without waiting for the next tick.
        assert len(fake_stripe.requests.filter("POST", f"/v1/invoices/{invoice['id']}/pay")) == 1
        assert [r[0] for r in db.execute("SELECT kind FROM email_messages ORDER BY id")] == [
            "dunning_1",
            "dunning_2",
        ]
    assert "banner-amber" not in client.get("/w/acme/overview").text


def test_a_member_cannot_pause_recovery(client, olivia, marco, db, acme):
    ws_domain.add_member(db, workspace_for(db, olivia.admin, "acme"), marco.admin.email, "member", None)
    login(client, marco)
    assert "Only an owner can pause recovery" in client.get(PAUSE).text
    assert post_form(client, PAUSE, PAUSE, {"paused": "1"}).status_code == 403
    assert campaigns.paused_at(db, acme.id) is None
