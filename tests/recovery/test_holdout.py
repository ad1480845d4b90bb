"""The dunning holdout: which campaigns it takes (stable, the share asked for), that a held-out
campaign is retried but never emailed, and how the settings, the campaign page and the API show it."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine

from backstop import clock
from backstop.db import write_transaction
from backstop.recovery import campaigns, holdout
from backstop.recovery.campaigns import FailedInvoice
from backstop.workspaces.tokens import create_token
from tests.builders import field_error, text_of
from tests.conftest import login, post_form


def failed(invoice_id: str, code: str = "insufficient_funds") -> FailedInvoice:
    return FailedInvoice(invoice_id, "cus_x", "sub_x", 4900, "usd", 1, code, None, "x@example.com", "X")


@pytest.mark.parametrize("percent", [1, 10, 25, 50])
def test_the_share_held_out_is_within_3_points_of_the_setting_over_2000_campaigns(percent):
    held = [holdout.is_held_out(7, f"in_{n:06d}", percent) for n in range(2000)]
    assert abs(sum(held) / 2000 - percent / 100) <= 0.03
    assert held == [holdout.is_held_out(7, f"in_{n:06d}", percent) for n in range(2000)]  # stable


def test_assignment_depends_on_the_workspace_and_invoice_only_and_grows_with_the_percent():
    ids = [f"in_{n:06d}" for n in range(2000)]
    at_10 = {i for i in ids if holdout.is_held_out(1, i, 10)}
    at_20 = {i for i in ids if holdout.is_held_out(1, i, 20)}
    assert at_10 < at_20  # raising the share only adds campaigns; none switches back
    assert at_10 != {i for i in ids if holdout.is_held_out(2, i, 10)}  # another workspace, other picks
    assert not any(holdout.is_held_out(1, i, None) for i in ids)


def test_the_arm_is_recorded_when_a_campaign_opens_and_never_changes(db, acme):
    with write_transaction(db):
        off, _ = campaigns.open_campaign(db, acme.id, failed("in_before"))
        holdout.save_percent(db, acme.id, 50)
    opened = {}
    with write_transaction(db):
        for n in range(200):
            row, _ = campaigns.open_campaign(db, acme.id, failed(f"in_{n:04d}"))
            opened[row["invoice_id"]] = row["dunning_holdout"]
    assert off["dunning_holdout"] is None  # opened while the holdout was off: in neither arm
    assert set(opened.values()) == {0, 1}
    assert all(v == holdout.is_held_out(acme.id, i, 50) for i, v in opened.items())
    assert 0.40 <= sum(opened.values()) / 200 <= 0.60
    with write_transaction(db):
        holdout.save_percent(db, acme.id, None)  # turning it off changes no campaign
        again = {i: campaigns.open_campaign(db, acme.id, failed(i))[0]["dunning_holdout"] for i in opened}
    assert again == opened
    assert campaigns.by_invoice(db, acme.id, "in_before")["dunning_holdout"] is None


# -- end to end, through the Stripe events and the due steps ---------------------------------------


def emails_to(db, email: str) -> list[str]:
    return [
        r[0] for r in db.execute("SELECT kind FROM email_messages WHERE to_email = ? ORDER BY id", [email])
    ]


def one_of_each_arm(db, fake_stripe, loop, ws) -> tuple[dict, dict]:
    """Failed renewals at a 50 % holdout until one campaign sits in each arm."""
    arms: dict[int, dict] = {}
    for n in range(40):
        story = fake_stripe.customer_with_declining_card("insufficient_funds", email=f"c{n}@example.com")
        invoice = fake_stripe.renewal_fails(story.subscription["id"])
        loop.settle()
        row = campaigns.by_invoice(db, ws.id, invoice["id"])
        arms.setdefault(row["dunning_holdout"], row)
        if len(arms) == 2:
            return arms[1], arms[0]
    raise AssertionError("40 campaigns at 50 % and one arm stayed empty")


def test_a_held_out_campaign_is_retried_but_sent_no_dunning_email(db, fake_stripe, loop, connected):
    with write_transaction(db):
        holdout.save_percent(db, connected.id, 50)
    held, emailed = one_of_each_arm(db, fake_stripe, loop, connected)
    assert emails_to(db, emailed["customer_email"]) == ["dunning_1"]
    assert emails_to(db, held["customer_email"]) == []
    timeline = [t["kind"] for t in campaigns.timeline(db, held["id"])]
    assert "held_out" in timeline and timeline.count("email_held_out") == 1
    with time_machine.travel(clock.now() + timedelta(days=3, minutes=1), tick=False):
        loop.settle()
        tried = db.execute(
            "SELECT campaign_id, outcome FROM payment_attempts WHERE campaign_id IN (?, ?) ORDER BY id",
            [held["id"], emailed["id"]],
        ).fetchall()
        assert sorted(tuple(r) for r in tried) == sorted(
            [(held["id"], "declined"), (emailed["id"], "declined")]
        )  # both arms get the same retries
        assert emails_to(db, held["customer_email"]) == []
        assert emails_to(db, emailed["customer_email"]) == ["dunning_1", "dunning_2"]
    pays = fake_stripe.requests.filter("POST", f"/v1/invoices/{held['invoice_id']}/pay")
    assert len(pays) == 1
    with time_machine.travel(clock.now() + timedelta(days=30), tick=False):
        loop.settle()
    assert emails_to(db, held["customer_email"]) == []
    skipped = [t for t in campaigns.timeline(db, held["id"]) if t["kind"] == "email_held_out"]
    assert [t["detail"]["step"] for t in skipped] == [1, 2, 3, 4]
    assert campaigns.by_invoice(db, connected.id, held["invoice_id"])["status"] == "lost"


def test_a_new_card_still_recovers_a_held_out_campaign(db, fake_stripe, loop, connected):
    with write_transaction(db):
        holdout.save_percent(db, connected.id, 50)
    held, _ = one_of_each_arm(db, fake_stripe, loop, connected)
    fake_stripe.make_card(held["customer_id"], default=True)
    loop.settle()
    assert campaigns.by_invoice(db, connected.id, held["invoice_id"])["status"] == "recovered"
    assert emails_to(db, held["customer_email"]) == []


def test_the_campaign_page_and_the_api_say_it_is_held_out(web, olivia, db, fake_stripe, loop, connected):
    with write_transaction(db):
        holdout.save_percent(db, connected.id, 50)
    held, emailed = one_of_each_arm(db, fake_stripe, loop, connected)
    login(web, olivia)
    page = web.get(f"/w/acme/recovery/{held['id']}")
    text = text_of(page.text)
    assert "In the dunning holdout: Backstop retries the charge but sends no dunning emails" in text
    assert "Held out: no dunning emails (holdout). Email 1 of 4 was not sent." in text
    assert "Skip dunning email 2 of 4 (held out)" in text and "Send dunning email" not in text
    assert "Resend email" not in text and "Resend queues" not in text and "None" not in text
    listed = web.get("/w/acme/recovery").text
    assert listed.count(">Holdout</span>") == 1
    other = text_of(web.get(f"/w/acme/recovery/{emailed['id']}").text)
    assert "Sent as planned (this campaign is in the emails arm of the dunning holdout)" in other
    refused = post_form(web, f"/w/acme/recovery/{held['id']}", f"/w/acme/recovery/{held['id']}/resend", {})
    assert refused.status_code == 400 and "it gets retries but no dunning emails" in text_of(refused.text)
    _, token = create_token(db, connected.id, "Reports", livemode=False, created_by=olivia.admin.id)
    auth = {"Authorization": f"Bearer {token}"}
    assert web.get(f"/api/v1/campaigns/{held['id']}", headers=auth).json()["dunning_holdout"] is True
    assert web.get(f"/api/v1/campaigns/{emailed['id']}", headers=auth).json()["dunning_holdout"] is False
    schema = web.get("/api/v1/openapi.json").json()["components"]["schemas"]
    campaign_schema = next(s for name, s in schema.items() if name.endswith("CampaignOut"))
    assert "dunning_holdout" in campaign_schema["properties"]


# -- Settings → Email --------------------------------------------------------------------------


def test_the_holdout_is_off_by_default_and_takes_1_to_50_percent(client, olivia, acme, db):
    login(client, olivia)
    page = text_of(client.get("/w/acme/settings/email").text)
    assert "Dunning holdout" in page and holdout.get_percent(db, acme.id) is None
    url, action = "/w/acme/settings/email", "/w/acme/settings/email/holdout"
    for bad in ("60", "0", "ten", ""):
        refused = post_form(client, url, action, {"holdout_on": "1", "holdout_percent": bad})
        assert refused.status_code == 400
        assert field_error(refused.text, "holdout_percent") == (
            "Hold out a whole number from 1 to 50 percent of new campaigns."
        )
    assert holdout.get_percent(db, acme.id) is None
    saved = post_form(client, url, action, {"holdout_on": "1", "holdout_percent": "20"})
    assert saved.status_code in (302, 303) and holdout.get_percent(db, acme.id) == 20
    assert 'name="holdout_on" value="1" checked' in client.get(url).text
    post_form(client, url, action, {"holdout_percent": "20"})  # unticked: off
    assert holdout.get_percent(db, acme.id) is None
