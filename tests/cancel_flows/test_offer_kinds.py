"""Free months, a trial extension, the annual plan and a call: what each does in Stripe, and the
words the customer reads afterwards even when optional data is missing."""

from __future__ import annotations

from dataclasses import replace

import pytest

from backstop.cancel_flows import sessions
from backstop.stripe_sync import connection
from backstop.web.public import cancel_view
from tests.cancel_flows.stories import mirror_objects, publish_flow, subscriber

DAY = 86_400


def offer_flow(offers: dict[str, dict]) -> dict:
    """A survey whose reason `<kind>` leads to an offer of that kind."""
    nodes = [
        {
            "id": "survey",
            "type": "survey",
            "title": "Why?",
            "reasons": [{"code": kind, "label": kind, "next": f"offer_{kind}"} for kind in offers],
        }
    ]
    for kind, fields in offers.items():
        offer = {
            "kind": kind,
            "headline": f"{kind} offer",
            "body": "",
            "accept_label": "Yes please",
            **fields,
        }
        nodes.append(
            {
                "id": f"offer_{kind}",
                "type": "offer",
                "variants": [{"id": "a", "weight": 1, "offer": offer}],
                "on_decline": "confirm",
            }
        )
    nodes.append({"id": "confirm", "type": "confirm", "title": "Sure?", "body": ""})
    return {"format": "backstop.cancel_flow/1", "name": "Kinds", "start": "survey", "nodes": nodes}


@pytest.fixture
def stripe_settings(settings, fake_stripe):
    return replace(settings, stripe_api_base=fake_stripe.url, stripe_connect_base=fake_stripe.url)


@pytest.fixture
def setup(db, box, acme, fake_stripe, stripe_settings):
    connection.save_key_connection(
        db, box, acme.id, fake_stripe.add_key(), False, webhook_secret=None, polling=True
    )
    yearly = fake_stripe.create_price(30000, "usd", "year", product_name="Team yearly")
    mirror_objects(db, acme.id, fake_stripe, yearly["product"], yearly["id"])
    publish_flow(
        db,
        acme.id,
        offer_flow(
            {
                "gift": {"months": 2},
                "trial_extension": {"days": 14},
                "annual_upsell": {"price_id": yearly["id"], "percent_off": 17},
                "call": {"booking_url": "https://cal.example.com/acme"},
            }
        ),
    )
    return (lambda ws: connection.gateway(db, box, stripe_settings, ws, max_attempts=1)), yearly


def _accept(db, acme, who, kind, gw):
    session = sessions.open_session(db, acme, who.customer["id"], None, return_url=None, source="hosted")
    sessions.answer(db, session.key, {"step": "survey", "action": "reason", "reason": kind})
    _, action_id = sessions.answer(db, session.key, {"step": f"offer_{kind}", "action": "accept"})
    if action_id:
        assert sessions.run_action(db, action_id, gw) == "done"
    return sessions.get(db, acme.id, session.id), action_id


def test_free_months_are_a_100_percent_coupon_for_n_months(db, acme, fake_stripe, setup):
    gw, _ = setup
    who = subscriber(db, acme.id, fake_stripe)
    done, _ = _accept(db, acme, who, "gift", gw)
    assert (done.outcome, done.mrr_saved) == ("saved_other", 3000)
    sub = fake_stripe.get(who.subscription["id"])
    coupon = fake_stripe.get(fake_stripe.get(sub["discounts"][0])["source"]["coupon"])
    assert (
        coupon["percent_off"],
        coupon["duration"],
        coupon["duration_in_months"],
        coupon["max_redemptions"],
    ) == (
        100,
        "repeating",
        2,
        1,
    )


def test_a_trial_extension_moves_trial_end_from_the_current_end(db, acme, fake_stripe, setup):
    gw, _ = setup
    who = subscriber(db, acme.id, fake_stripe, trial_period_days=7)
    done, _ = _accept(db, acme, who, "trial_extension", gw)
    assert fake_stripe.get(who.subscription["id"])["trial_end"] == who.subscription["trial_end"] + 14 * DAY
    assert done.outcome == "saved_other"


def test_the_annual_upsell_switches_to_the_yearly_price(db, acme, fake_stripe, setup):
    gw, yearly = setup
    who = subscriber(db, acme.id, fake_stripe)
    done, _ = _accept(db, acme, who, "annual_upsell", gw)
    items = fake_stripe.get(who.subscription["id"])["items"]["data"]
    assert [i["price"]["id"] for i in items] == [yearly["id"]]
    assert done.mrr_saved == 2500  # $300 a year is $25 a month


def test_a_call_changes_nothing_in_stripe_and_shows_the_booking_link(db, acme, fake_stripe, setup):
    gw, _ = setup
    who = subscriber(db, acme.id, fake_stripe)
    before = len(fake_stripe.requests)
    done, action_id = _accept(db, acme, who, "call", gw)
    assert action_id is None and (done.state, done.outcome) == ("finished", "saved_other")
    assert len(fake_stripe.requests) == before
    view = cancel_view.done_view(
        db,
        acme.id,
        outcome="saved_other",
        offer=done.accepted,
        cancel_at="period_end",
        period_end=None,
        result=None,
        return_url=None,
    )
    assert view.booking_url == "https://cal.example.com/acme"


@pytest.mark.parametrize(
    ("outcome", "offer"),
    [
        ("saved_discount", {"kind": "discount", "percent_off": 30, "duration_months": 1}),
        (
            "saved_discount",
            {"kind": "discount", "amount_off": 500, "currency": "usd", "duration_months": "forever"},
        ),
        ("saved_pause", {"kind": "pause", "months": 1}),
        ("saved_downgrade", {"kind": "downgrade", "price_id": "price_gone"}),
        ("saved_other", {"kind": "annual_upsell", "price_id": None}),
        ("saved_other", {"kind": "gift", "months": 3}),
        ("saved_other", {"kind": "trial_extension", "days": 30}),
        ("saved_other", {"kind": "call", "booking_url": "https://cal.example.com/x"}),
        ("saved_other", None),
        ("canceled", None),
    ],
)
def test_every_done_page_is_whole_without_optional_data(db, acme, outcome, offer):
    for cancel_at in ("period_end", "immediately"):
        view = cancel_view.done_view(
            db,
            acme.id,
            outcome=outcome,
            offer=offer,
            cancel_at=cancel_at,
            period_end=None,
            result=None,
            return_url=None,
        )
        text = " ".join([view.title, *view.lines])
        assert view.lines and all(line.strip() for line in view.lines)
        for bad in ("None", "null", "— off", "  ", " .", "()"):
            assert bad not in text, (bad, text)
