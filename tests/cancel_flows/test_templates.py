"""The twelve templates: names, copy that validates, which publish at once and which wait."""

from __future__ import annotations

import pytest

from backstop.cancel_flows import document, flows, templates
from backstop.cancel_flows.policy import OfferPolicy
from backstop.workspaces.errors import ValidationError
from tests.builders import put_price

SPEC_NAMES = [
    "SaaS Standard",
    "Pause Instead",
    "Annual Upsell",
    "Dev Tool / API Service",
    "Agency / Pro Service",
    "Newsletter / Content",
    "Fitness / Wellness",
    "B2B with Account Teams",
    "Hobby / Consumer App",
    "Education / Course Platform",
    "Productivity / Personal",
    "Blank (survey + confirm only)",
]
DRAFTS = {
    "Agency / Pro Service": ("booking_url",),
    "Fitness / Wellness": ("quote", "author"),
    "B2B with Account Teams": ("booking_url",),
}
NEED_PRICES = {"Annual Upsell", "Dev Tool / API Service"}


def test_there_are_twelve_templates_by_the_spec_names():
    assert templates.NAMES == SPEC_NAMES


def test_find_forgives_case_and_the_blank_suffix_and_names_the_choices():
    assert templates.find("saas   standard").name == "SaaS Standard"
    assert templates.find("Blank").name == "Blank (survey + confirm only)"
    with pytest.raises(ValidationError, match="no template called “Gold”; choose one of: SaaS Standard"):
        templates.find("Gold")


@pytest.fixture
def priced(db, acme):
    put_price(db, acme.id, "price_basic_m", 1900, product="prod_basic")
    put_price(db, acme.id, "price_pro_m", 4900, product="prod_pro", nickname="Pro monthly")
    put_price(db, acme.id, "price_pro_y", 49000, interval="year", product="prod_pro")
    return acme


@pytest.mark.parametrize("name", SPEC_NAMES)
def test_every_template_round_trips_and_validates_except_what_the_founder_fills_in(db, priced, name):
    from backstop.stripe_sync.prices import recurring_prices

    flow = templates.build(name, recurring_prices(db, priced.id))
    assert document.parse(document.to_json(flow)) == flow
    problems = document.validate(flow)
    if name in DRAFTS:
        assert problems and all(p.field.endswith(DRAFTS[name]) for p in problems)
    else:
        assert problems == []
    text = str(document.to_json(flow))
    for bad in ("None", "null", "TODO", "lorem"):
        assert bad not in text


@pytest.mark.parametrize("name", SPEC_NAMES)
def test_using_a_template_publishes_v1_unless_it_needs_something(db, priced, name):
    used = templates.use_template(db, priced.id, name)
    if name in DRAFTS:
        assert (used.status, used.version) == ("draft", None)
        assert used.publish.status == "refused"
    else:
        assert (used.status, used.version) == ("published", 1)
        assert flows.live_versions(db, priced.id, used.flow.id)[0].traffic_percent == 100
    assert used.flow.template == name


def test_price_targets_are_picked_from_the_mirrored_prices(db, priced):
    from backstop.stripe_sync.prices import recurring_prices

    prices = recurring_prices(db, priced.id)
    dev = templates.build("Dev Tool / API Service", prices)
    downgrade = dev.node("offer_downgrade").variants[0].offer
    assert downgrade.price_id == "price_basic_m"
    upsell = templates.build("Annual Upsell", prices).node("offer_annual").variants[0].offer
    assert upsell.price_id == "price_pro_y"
    assert upsell.percent_off == 17  # 490 a year against 12 months of 49
    assert upsell.headline == "Pay yearly and save 17%"


@pytest.mark.parametrize("name", sorted(NEED_PRICES))
def test_without_prices_the_price_templates_land_as_drafts_saying_which_price(db, acme, name):
    used = templates.use_template(db, acme.id, name)
    assert used.status == "draft"
    [problem] = used.publish.problems
    assert problem.field.endswith("price_id")
    assert "Choose the Stripe price of" in problem.message


def test_the_draft_templates_say_exactly_what_to_fill_in(db, acme):
    agency = templates.use_template(db, acme.id, "Agency / Pro Service")
    [p] = agency.publish.problems
    assert (p.node_id, p.field) == ("offer_call", "variants[0].offer.booking_url")
    assert "booking page" in p.message
    fitness = templates.use_template(db, acme.id, "Fitness / Wellness")
    assert [(p.node_id, p.field) for p in fitness.publish.problems] == [
        ("stories", "stories[0].quote"),
        ("stories", "stories[0].author"),
    ]


def test_a_template_over_the_approval_threshold_waits_as_a_draft(db, acme):
    flows.save_offer_policy(db, acme.id, OfferPolicy(90, max_percent_off=20))
    used = templates.use_template(db, acme.id, "SaaS Standard")
    assert (used.status, used.version, used.publish.status) == ("draft", None, "pending_approval")
    assert len(flows.pending_approvals(db, acme.id)) == 1
