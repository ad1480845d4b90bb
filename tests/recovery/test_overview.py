"""The Overview's recovery parts: the two KPI tiles with their denominators, the decline-code
mix chart, stalled campaigns with a Resend action, and recent activity."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
import time_machine
from litestar.testing import TestClient

from backstop import clock
from backstop.recovery import campaigns
from tests.conftest import csrf_from, login


@pytest.fixture
def client(stripe_settings, db) -> Iterator[TestClient]:
    from backstop.web.app import create_app

    with TestClient(app=create_app(stripe_settings, run_jobs=False), base_url="http://127.0.0.1") as c:
        yield c


def fail(fake_stripe, loop, db, ws, code, email, amount=2000):
    story = fake_stripe.customer_with_declining_card(
        code, email=email, name=email.split("@")[0].title(), unit_amount=amount
    )
    invoice = fake_stripe.renewal_fails(story.subscription["id"])
    loop.settle()
    return campaigns.by_invoice(db, ws.id, invoice["id"]), story


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_the_tiles_chart_and_activity_show_real_campaigns(client, olivia, db, fake_stripe, loop, connected):
    fail(fake_stripe, loop, db, connected, "insufficient_funds", "ann@example.com", 4900)
    fail(fake_stripe, loop, db, connected, "insufficient_funds", "bo@example.com")
    lost, _ = fail(fake_stripe, loop, db, connected, "expired_card", "cy@example.com")
    _, story = fail(fake_stripe, loop, db, connected, "insufficient_funds", "di@example.com", 1500)
    fake_stripe.make_card(story.customer["id"], default=True)  # Di fixes the card: recovered
    loop.settle()
    campaigns.close(db, lost["id"], "abandoned", "Closed by test")
    login(client, olivia)
    page = client.get("/w/acme/overview").text
    words = text_of(page)
    assert "$15.00 Recovered · 30d 1 recovered of 2 closed campaigns" in words
    assert "50.0% Recovery rate · 30d 1 of 2 closed campaigns" in words
    chart = page.split('class="bar-chart"', 1)[1].split("</svg>", 1)[0]
    assert re.search(r'class="bar-label">insufficient_funds</text>.*?class="bar-value">3</text>', chart, re.S)
    assert re.search(r'class="bar-label">expired_card</text>.*?class="bar-value">1</text>', chart, re.S)
    assert "4 campaigns opened in the last 90 days" in words
    assert "Recent recovery activity" in words and "Closed as abandoned: Closed by test" in words
    assert "Stalled campaigns" not in words  # nothing is 14 days old yet


def test_a_stalled_campaign_shows_with_a_resend_button_that_works(
    client, olivia, db, fake_stripe, loop, connected
):
    campaign, _ = fail(fake_stripe, loop, db, connected, "insufficient_funds", "ann@example.com")
    with time_machine.travel(clock.now() + timedelta(days=15), tick=False):
        login(client, olivia)
        page = client.get("/w/acme/overview")
        assert "Stalled campaigns" in page.text
        section = text_of(page.text.split('id="stalled"', 1)[1].split("</section>", 1)[0])
        assert "Ann" in section and "$20.00" in section and "insufficient_funds" in section
        before = db.execute("SELECT COUNT(*) FROM email_messages").fetchone()[0]
        sent = client.post(
            f"/w/acme/recovery/{campaign['id']}/resend?back=overview",
            data={"_csrf_token": csrf_from(page.text)},
            follow_redirects=True,
        )
        assert "The latest dunning email is queued again" in sent.text
        assert db.execute("SELECT COUNT(*) FROM email_messages").fetchone()[0] == before + 1


def test_the_first_campaign_ticks_checklist_step_5(client, olivia, db, fake_stripe, loop, connected):
    login(client, olivia)
    assert re.search(r'class="step" data-step="5"', client.get("/w/acme/overview").text)
    fail(fake_stripe, loop, db, connected, "insufficient_funds", "ann@example.com")
    assert re.search(r'class="step done" data-step="5"', client.get("/w/acme/overview").text)
