"""The hosted update-card page in-process, against the fake Stripe: each state, the link's
signature and age, and a new card that pays the invoice and recovers the campaign."""

from datetime import timedelta

import pytest
import time_machine

from backstop import clock
from backstop.recovery import campaigns, links
from backstop.stripe_sync import connection
from tests.builders import confirm_in_browser, csrf_of, form_data, text_of, url_for


def test_the_page_shows_what_is_owed_and_the_card_on_file(web, failed, page_settings, fake_stripe):
    story, _, campaign = failed
    page = web.get(url_for(page_settings, campaign))
    assert page.status_code == 200
    text = text_of(page.text)
    assert "Update your card" in text and "$49.00" in text and "Pro plan" in text
    pm = fake_stripe.get(story.payment_method["id"])["card"]
    assert f"ending in {pm['last4']}" in text and f"{pm['exp_month']:02d}/{pm['exp_year']}" in text
    data = form_data(page.text)
    assert data["pk"] == fake_stripe.publishable_key and data["account"] == ""
    seti = fake_stripe.get(data["secret"].split("_secret_")[0])
    assert seti["customer"] == story.customer["id"] and seti["usage"] == "off_session"
    csp = page.headers["content-security-policy"]
    assert "script-src 'self' https://js.stripe.com;" in csp and "frame-ancestors 'none'" in csp
    assert f"connect-src 'self' {fake_stripe.url}" in csp


def test_reloading_the_page_reuses_one_setup_intent(web, failed, page_settings, fake_stripe):
    _, _, campaign = failed
    first = form_data(web.get(url_for(page_settings, campaign)).text)["secret"]
    second = form_data(web.get(url_for(page_settings, campaign)).text)["secret"]
    assert first == second
    created = fake_stripe.requests.filter("POST", "/v1/setup_intents")
    assert {r.idempotency_key for r in created} == {f"backstop-{campaign['id']}-setup-1"}


def test_a_new_card_becomes_the_default_pays_the_invoice_and_recovers(
    web, db, failed, page_settings, fake_stripe
):
    story, invoice, campaign = failed
    url = url_for(page_settings, campaign)
    page = web.get(url)
    seti = confirm_in_browser(fake_stripe, form_data(page.text)["secret"])
    answer = web.post(
        f"{url}/confirm", json={"setup_intent": seti.id}, headers={"x-csrftoken": csrf_of(page.text)}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["state"] == "paid" and answer.json()["card"]["card_last4"] == "4242"
    customer = fake_stripe.get(story.customer["id"])
    assert customer["invoice_settings"]["default_payment_method"] == seti.payment_method
    assert fake_stripe.get(story.subscription["id"])["default_payment_method"] == seti.payment_method
    assert fake_stripe.get(invoice["id"])["status"] == "paid"
    assert campaigns.get(db, campaign["workspace_id"], campaign["id"])["status"] == "recovered"
    assert web.get(f"{url}/status").json() == {"state": "paid"}
    again = text_of(web.get(url).text)
    assert "Payment received" in again and "Update your card" not in again


def test_a_new_card_that_declines_says_so_and_offers_another(web, db, failed, page_settings, fake_stripe):
    _, invoice, campaign = failed
    url = url_for(page_settings, campaign)
    page = web.get(url)
    seti = confirm_in_browser(
        fake_stripe, form_data(page.text)["secret"], "pm_card_chargeCustomerFail_insufficient_funds"
    )
    answer = web.post(
        f"{url}/confirm", json={"setup_intent": seti.id}, headers={"x-csrftoken": csrf_of(page.text)}
    )
    assert answer.json()["state"] == "declined"
    message = answer.json()["message"]
    assert message.startswith("Your bank") and "insufficient_funds" not in message  # plain words
    assert fake_stripe.get(invoice["id"])["status"] == "open"
    assert campaigns.get(db, campaign["workspace_id"], campaign["id"])["status"] == "in_flight"
    # Trying another card gets a fresh SetupIntent: the first one is used up.
    fresh = form_data(web.get(url).text)["secret"]
    assert fresh.split("_secret_")[0] != seti.id


def test_confirm_refuses_another_customers_setup_intent(web, db, failed, page_settings, fake_stripe):
    _, invoice, campaign = failed
    stranger = fake_stripe.create_customer(email="mallory@example.com")
    other = fake_stripe.client().v1.setup_intents.create(params={"customer": stranger["id"]})
    fake_stripe.complete_setup_intent(other.id)
    url = url_for(page_settings, campaign)
    page = web.get(url)
    answer = web.post(
        f"{url}/confirm", json={"setup_intent": other.id}, headers={"x-csrftoken": csrf_of(page.text)}
    )
    assert answer.status_code == 403 and answer.json()["state"] == "error"
    assert fake_stripe.requests.filter("POST", f"/v1/invoices/{invoice['id']}/pay") == []
    assert fake_stripe.get(stranger["id"])["invoice_settings"]["default_payment_method"] is None


def test_confirm_refuses_an_unconfirmed_setup_intent(web, failed, page_settings, fake_stripe):
    _, invoice, campaign = failed
    url = url_for(page_settings, campaign)
    page = web.get(url)
    seti_id = form_data(page.text)["secret"].split("_secret_")[0]
    answer = web.post(
        f"{url}/confirm", json={"setup_intent": seti_id}, headers={"x-csrftoken": csrf_of(page.text)}
    )
    assert answer.status_code == 400 and "enter it again" in answer.json()["message"]
    assert fake_stripe.requests.filter("POST", f"/v1/invoices/{invoice['id']}/pay") == []


def test_confirm_needs_the_pages_csrf_token(web, failed, page_settings, fake_stripe):
    _, invoice, campaign = failed
    url = url_for(page_settings, campaign)
    page = web.get(url)
    seti = confirm_in_browser(fake_stripe, form_data(page.text)["secret"])
    answer = web.post(f"{url}/confirm", json={"setup_intent": seti.id})
    assert answer.status_code == 403
    assert fake_stripe.get(invoice["id"])["status"] == "open"


def test_a_tampered_link_is_not_valid(web, failed, page_settings):
    _, _, campaign = failed
    url = url_for(page_settings, campaign)
    forged = links.update_card_token("another-secret-key-" * 3, campaign["workspace_id"], campaign["id"])
    for bad in (url[:-3] + ("aaa" if not url.endswith("aaa") else "bbb"), f"/update-card/{forged}"):
        page = web.get(bad)
        assert page.status_code == 404 and "This link isn't valid" in text_of(page.text)
        assert "uc-form" not in page.text
        assert web.get(f"{bad}/status").json()["state"] == "invalid"


def test_a_link_to_another_workspaces_campaign_is_not_valid(web, db, box, failed, page_settings, olivia):
    from backstop.workspaces.workspaces import create_workspace

    _, _, campaign = failed
    other, _ = create_workspace(db, box, "Other Co", olivia.admin, "other")
    token = links.update_card_token(page_settings.secret_key, other.id, campaign["id"])
    page = web.get(f"/update-card/{token}")
    assert page.status_code == 404 and "$49.00" not in page.text


def test_an_old_link_has_expired_but_keeps_the_branding(web, db, failed, page_settings, connected):
    _, _, campaign = failed
    url = url_for(page_settings, campaign)
    with time_machine.travel(clock.now() + timedelta(days=46), tick=False):
        page = web.get(url)
    assert page.status_code == 410
    text = text_of(page.text)
    assert "This link has expired" in text and connected.name in text and "$49.00" not in text


def test_an_already_paid_invoice_shows_payment_received(web, db, failed, page_settings, fake_stripe, loop):
    _, invoice, campaign = failed
    fake_stripe.client().v1.invoices.pay(invoice["id"], params={"paid_out_of_band": True})
    page = web.get(url_for(page_settings, campaign))  # before the event arrives: Stripe says paid
    assert "Payment received" in text_of(page.text) and "uc-form" not in page.text
    loop.settle()
    assert "Payment received" in text_of(web.get(url_for(page_settings, campaign)).text)


def test_a_closed_campaign_has_nothing_to_pay(web, db, failed, page_settings):
    _, _, campaign = failed
    campaigns.close(db, campaign["id"], "abandoned", "Closed by an admin")
    page = web.get(url_for(page_settings, campaign))
    assert "There's nothing to pay here" in text_of(page.text) and "uc-form" not in page.text


def test_stripe_down_gets_a_page_with_a_retry_button(web, failed, page_settings, fake_stripe):
    _, _, campaign = failed
    fake_stripe.faults.server_error(count=10)
    page = web.get(url_for(page_settings, campaign))
    assert page.status_code == 503
    text = text_of(page.text)
    assert "We couldn't load your payment details" in text and "Try again" in text


def test_without_a_publishable_key_the_page_says_how_to_get_help(web, db, failed, page_settings, connected):
    _, _, campaign = failed
    connection.set_publishable_key(db, connected.id, None)
    page = web.get(url_for(page_settings, campaign))
    text = text_of(page.text)
    assert page.status_code == 200 and "$49.00" in text and "reply to the email" in text
    assert "uc-form" not in page.text


def test_the_page_escapes_what_it_shows(web, db, failed, page_settings, connected):
    _, _, campaign = failed
    db.execute("UPDATE workspaces SET name = ? WHERE id = ?", ["<script>alert(1)</script>", connected.id])
    db.execute(
        "UPDATE stripe_products SET name = ? WHERE workspace_id = ?", ['Pro "<b>plan</b>"', connected.id]
    )
    html = web.get(url_for(page_settings, campaign)).text
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<b>plan</b>" not in html


def test_the_branding_theme_reaches_the_page(web, db, failed, page_settings, connected):
    from backstop.email.branding import save_branding

    _, _, campaign = failed
    save_branding(db, connected.id, {"brand_color": "#aa3300", "theme": "dark"})
    html = web.get(url_for(page_settings, campaign)).text
    assert 'class="theme-dark"' in html and "--brand: #aa3300" in html


@pytest.mark.parametrize(
    "value",
    [
        "seti_x/../../payment_intents/pi_123",
        "seti_x/..%2F..%2Fpayment_intents%2Fpi_123",
        "seti_x?expand[]=customer",
        "seti_",
        "seti_x#y",
        "seti_" + "a" * 300,
        {"id": "seti_x"},
    ],
)
def test_confirm_refuses_a_setup_intent_that_is_not_a_plain_id_and_calls_no_other_stripe_path(
    web, failed, page_settings, fake_stripe, value
):
    _, invoice, campaign = failed
    url = url_for(page_settings, campaign)
    page = web.get(url)
    before = len(fake_stripe.requests)
    answer = web.post(
        f"{url}/confirm", json={"setup_intent": value}, headers={"x-csrftoken": csrf_of(page.text)}
    )
    assert answer.status_code == 400 and "wasn't recognised" in answer.json()["message"]
    assert len(fake_stripe.requests) == before  # nothing at all reached Stripe
    assert not any("payment_intents" in r.path for r in fake_stripe.requests)
    assert fake_stripe.get(invoice["id"])["status"] == "open"
