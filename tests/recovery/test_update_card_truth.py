"""The update-card confirm never says "nothing was charged" unless Backstop knows it. Real faults:
another connection holds the database's write lock at the moment a Stripe call is in flight, so
Backstop's next write fails with "database is locked", and the fake Stripe fails reads. The
answer is what Stripe says about the invoice: paid, not paid (and nothing was charged, when the
charge was never asked for), or "checking" with the status endpoint to poll."""

from __future__ import annotations

import re

import pytest

from backstop.recovery import campaigns
from tests.builders import LockWhile, confirm_in_browser, csrf_of, form_data, url_for

NOTHING_CHARGED = "nothing was charged"


@pytest.fixture(autouse=True)
def short_busy_timeout(monkeypatch):
    """Backstop's connections wait 0.3 s for the write lock instead of 5 s, so a held lock fails
    a write quickly."""
    monkeypatch.setattr("backstop.db.BUSY_TIMEOUT_MS", 300)


def _confirm(web, page_settings, campaign, fake_stripe, card="pm_card_visa", before_post=None):
    url = url_for(page_settings, campaign)
    page = web.get(url)
    seti = confirm_in_browser(fake_stripe, form_data(page.text)["secret"], card)
    if before_post:
        before_post()
    answer = web.post(
        f"{url}/confirm", json={"setup_intent": seti.id}, headers={"x-csrftoken": csrf_of(page.text)}
    )
    return url, seti, answer


def test_a_locked_database_after_the_charge_says_paid_because_stripe_says_so(
    web, db, failed, page_settings, fake_stripe
):
    _, invoice, campaign = failed
    lock = LockWhile(page_settings.db_path, fake_stripe, "POST", f"/v1/invoices/{invoice['id']}/pay")
    _, _, answer = _confirm(web, page_settings, campaign, fake_stripe)
    lock.join()
    assert lock.taken.is_set(), "the lock was never taken: the test didn't exercise the failure"
    assert fake_stripe.get(invoice["id"])["status"] == "paid"
    assert answer.status_code == 200, answer.text
    assert answer.json()["state"] == "paid"
    assert NOTHING_CHARGED not in answer.text.lower()


def test_a_locked_database_before_the_charge_says_nothing_was_charged_and_charges_nothing(
    web, db, failed, page_settings, fake_stripe
):
    story, invoice, campaign = failed
    lock = LockWhile(
        page_settings.db_path, fake_stripe, "POST", f"/v1/subscriptions/{story.subscription['id']}"
    )
    _, _, answer = _confirm(web, page_settings, campaign, fake_stripe)
    lock.join()
    assert lock.taken.is_set()
    assert answer.status_code == 503 and answer.json()["state"] == "error"
    assert NOTHING_CHARGED in answer.json()["message"]
    assert fake_stripe.requests.filter("POST", f"/v1/invoices/{invoice['id']}/pay") == []
    assert fake_stripe.get(invoice["id"])["status"] == "open"


def test_when_stripe_cannot_be_read_after_the_charge_the_page_is_told_to_keep_checking(
    web, db, failed, page_settings, fake_stripe
):
    _, invoice, campaign = failed
    lock = LockWhile(page_settings.db_path, fake_stripe, "POST", f"/v1/invoices/{invoice['id']}/pay")
    # After the charge, reading the invoice back fails too (every attempt, for a while).
    url, _, answer = _confirm(
        web,
        page_settings,
        campaign,
        fake_stripe,
        before_post=lambda: fake_stripe.faults.server_error(
            count=4, path=re.compile(rf"^/v1/invoices/{invoice['id']}$"), method="GET"
        ),
    )
    lock.join()
    assert lock.taken.is_set()
    # Neither answer claims anything about the charge: both make the page poll.
    assert answer.json()["state"] in ("waiting", "checking"), answer.text
    assert NOTHING_CHARGED not in answer.text.lower()
    fake_stripe.faults.clear()
    # What the page polls next: Stripe answers again, and the invoice was paid.
    assert web.get(f"{url}/status").json() == {"state": "paid"}
    assert campaigns.get(db, campaign["workspace_id"], campaign["id"])["status"] == "recovered"


def test_after_an_interrupted_charge_with_stripe_unreadable_the_answer_is_checking(
    db, failed, page_settings, fake_stripe
):
    from backstop.lib.crypto import SecretBox
    from backstop.recovery import update_card
    from backstop.recovery.model import Campaign
    from backstop.stripe_sync import connection

    _, invoice, row = failed
    campaign = Campaign.from_row(row)
    box = SecretBox(page_settings.secret_key)
    gateway_for = lambda w: connection.gateway(db, box, page_settings, w, max_attempts=2, timeout=10.0)  # noqa: E731
    interrupted = update_card.ConfirmInterrupted(RuntimeError("database is locked"), charge_started=True)
    fake_stripe.faults.server_error(
        count=2, path=re.compile(rf"^/v1/invoices/{invoice['id']}$"), method="GET"
    )
    answer, code = update_card.truth_after_error(campaign, interrupted, gateway_for)
    assert (answer["state"], code) == ("checking", 202)
    assert NOTHING_CHARGED not in answer["message"].lower() and "checking" in answer["message"]
    # Before the charge was asked for, the same failure is known to have charged nothing.
    fake_stripe.faults.server_error(
        count=2, path=re.compile(rf"^/v1/invoices/{invoice['id']}$"), method="GET"
    )
    before = update_card.ConfirmInterrupted(RuntimeError("database is locked"), charge_started=False)
    answer, code = update_card.truth_after_error(campaign, before, gateway_for)
    assert (answer["state"], code) == ("error", 503) and NOTHING_CHARGED in answer["message"]


def test_the_same_setup_intent_confirmed_twice_charges_once_and_answers_the_same(
    web, db, failed, page_settings, fake_stripe
):
    _, invoice, campaign = failed
    url, seti, first = _confirm(
        web, page_settings, campaign, fake_stripe, "pm_card_chargeCustomerFail_insufficient_funds"
    )
    token = csrf_of(web.get(url).text)
    second = web.post(f"{url}/confirm", json={"setup_intent": seti.id}, headers={"x-csrftoken": token})
    assert first.json()["state"] == second.json()["state"] == "declined"
    assert first.json()["message"] == second.json()["message"]
    assert len(fake_stripe.requests.filter("POST", f"/v1/invoices/{invoice['id']}/pay")) == 1
