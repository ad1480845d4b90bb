"""The flow document: parsing, round trips, and the validator's one-sentence problems."""

from __future__ import annotations

import copy

import pytest

from backstop.cancel_flows import document as d
from tests.builders import STANDARD


def doc(**changes) -> dict:
    out = copy.deepcopy(STANDARD)
    out.update(changes)
    return out


def node(data: dict, node_id: str) -> dict:
    return next(n for n in data["nodes"] if n["id"] == node_id)


def problems(data: dict) -> list[d.Problem]:
    return d.validate(d.parse(data))


def test_it_parses_the_contract_example_into_frozen_dataclasses():
    flow = d.parse(STANDARD)
    assert flow.name == "SaaS Standard"
    assert flow.start == "survey"
    assert [n.type for n in flow.nodes] == ["survey", "offer", "offer", "confirm"]
    survey = flow.node("survey")
    assert survey.reasons[0] == d.Reason("too_expensive", "It's too expensive", "offer_price")
    assert survey.free_text == d.FreeText(True, "Anything we could have done better?")
    offer = flow.node("offer_price").variants[0].offer
    assert (offer.kind, offer.percent_off, offer.duration_months) == ("discount", 30, 3)
    assert flow.confirm_id == "confirm"
    with pytest.raises(AttributeError):
        flow.name = "x"  # type: ignore[misc]


def test_a_complete_flow_has_no_problems():
    assert problems(STANDARD) == []


def test_to_json_round_trips():
    flow = d.parse(STANDARD)
    assert d.parse(d.to_json(flow)) == flow
    assert d.to_json(flow)["format"] == d.FORMAT


def test_offers_lists_every_variant_in_order():
    kinds = [(o.kind, o.percent_off, o.months) for o in d.offers(d.parse(STANDARD))]
    assert kinds == [("discount", 30, None), ("discount", 20, None), ("pause", None, 2)]


def test_stripe_feedback_maps_codes_and_defaults_to_other():
    assert d.STRIPE_FEEDBACK["too_expensive"] == "too_expensive"
    assert d.STRIPE_FEEDBACK["not_using"] == "unused"
    assert d.STRIPE_FEEDBACK["switching"] == "switched_service"
    assert d.STRIPE_FEEDBACK["missing_features"] == "missing_features"
    assert d.STRIPE_FEEDBACK["bugs"] == "low_quality"
    assert d.STRIPE_FEEDBACK["too_complex"] == "too_complex"
    assert d.STRIPE_FEEDBACK["customer_service"] == "customer_service"
    assert d.STRIPE_FEEDBACK["moved_house"] == "other"


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ([], "must be an object"),
        ({"format": "other/9", "nodes": []}, "format"),
        (doc(nodes="x"), "must be a list"),
        (doc(nodes=[{"id": "a", "type": "wizard"}]), "type “wizard”"),
        (doc(nodes=[{"id": "bad id!", "type": "confirm"}]), "“id”"),
        (doc(nodes=[{"id": "a", "type": "confirm"}, {"id": "a", "type": "confirm"}]), "share the id"),
        (
            doc(
                nodes=[
                    {
                        "id": "o",
                        "type": "offer",
                        "variants": [{"id": "a", "weight": 1, "offer": {"kind": "bribe"}}],
                    }
                ]
            ),
            "offer kind “bribe”",
        ),
        (
            doc(
                nodes=[
                    {
                        "id": "o",
                        "type": "offer",
                        "variants": [{"id": "a", "weight": "50", "offer": {"kind": "pause"}}],
                    }
                ]
            ),
            "whole number",
        ),
        (doc(nodes=[{"id": "c", "type": "confirm", "title": 5}]), "must be text"),
    ],
)
def test_it_refuses_malformed_documents_with_one_sentence(data, needle):
    with pytest.raises(d.DocumentError) as exc:
        d.parse(data)
    message = str(exc.value)
    assert needle in message
    assert message.endswith(".")


def test_incomplete_drafts_still_parse():
    data = doc()
    node(data, "offer_pause")["variants"][0]["offer"] = {"kind": "call", "headline": "Talk to us"}
    flow = d.parse(data)
    assert flow.node("offer_pause").variants[0].offer.booking_url is None


def test_an_unrouted_reason_names_the_node_and_field():
    data = doc()
    node(data, "survey")["reasons"][1]["next"] = None
    [p] = problems(data)
    assert (p.node_id, p.field) == ("survey", "reasons[1].next")
    assert "Choose the step" in p.message and "not using" in p.message.lower()


def test_a_reason_routed_to_a_missing_node_is_reported():
    data = doc()
    node(data, "survey")["reasons"][0]["next"] = "gone"
    msgs = [(p.node_id, p.field) for p in problems(data)]
    assert ("survey", "reasons[0].next") in msgs
    # offer_price is now unreachable and says so
    assert ("offer_price", None) in msgs


def test_a_loop_is_reported():
    data = doc()
    node(data, "offer_pause")["on_decline"] = "offer_price"
    found = [p for p in problems(data) if "loop" in p.message]
    assert [p.node_id for p in found] == ["offer_pause"]


def test_a_self_link_is_reported():
    data = doc()
    node(data, "offer_pause")["on_decline"] = "offer_pause"
    [p] = problems(data)
    assert p.field == "on_decline" and "same step" in p.message


def test_unreachable_nodes_are_reported_but_confirm_is_always_reachable():
    data = doc()
    data["nodes"].append(
        {
            "id": "stories",
            "type": "stories",
            "title": "t",
            "stories": [{"quote": "q", "author": "A"}],
            "next": "confirm",
        }
    )
    node(data, "survey")["reasons"][2]["next"] = "offer_pause"  # nothing points at confirm directly now
    out = problems(data)
    assert [(p.node_id, p.field) for p in out] == [("stories", None)]
    assert "never see it" in out[0].message


def test_a_flow_needs_a_confirm_and_a_start():
    data = doc(start="nowhere")
    data["nodes"] = [n for n in data["nodes"] if n["type"] != "confirm"]
    fields = {p.field for p in problems(data)}
    assert {"start", "nodes"} <= fields


def test_an_empty_flow_says_what_to_add():
    [p] = problems(doc(nodes=[]))
    assert "survey and a Confirm" in p.message


def test_settings_are_checked():
    data = doc(settings={"cancel_at": "tomorrow", "proration": "maybe"})
    assert {p.field for p in problems(data)} == {"settings.cancel_at", "settings.proration"}


def offer_problem_fields(offer: dict) -> set[str]:
    data = doc()
    node(data, "offer_pause")["variants"][0]["offer"] = {"headline": "H", "accept_label": "Yes", **offer}
    return {p.field for p in problems(data)}


PREFIX = "variants[0].offer."


@pytest.mark.parametrize(
    ("offer", "fields"),
    [
        ({"kind": "call"}, {"booking_url"}),
        ({"kind": "call", "booking_url": "http://cal.com/me"}, {"booking_url"}),
        ({"kind": "call", "booking_url": "https://cal.com/acme/15min"}, set()),
        ({"kind": "downgrade"}, {"price_id"}),
        ({"kind": "downgrade", "price_id": "price_123"}, set()),
        ({"kind": "annual_upsell", "price_id": "price_y"}, set()),
        ({"kind": "annual_upsell", "price_id": "price_y", "percent_off": 100}, {"percent_off"}),
        ({"kind": "annual_upsell"}, {"price_id"}),
        ({"kind": "discount", "duration_months": 3}, {"percent_off"}),
        ({"kind": "discount", "percent_off": 0, "duration_months": 3}, {"percent_off"}),
        ({"kind": "discount", "percent_off": 101, "duration_months": 3}, {"percent_off"}),
        ({"kind": "discount", "percent_off": 100, "duration_months": "forever"}, set()),
        ({"kind": "discount", "percent_off": 10}, {"duration_months"}),
        ({"kind": "discount", "amount_off": 500, "duration_months": 1}, {"currency"}),
        ({"kind": "discount", "amount_off": 500, "currency": "EUR", "duration_months": 1}, set()),
        (
            {
                "kind": "discount",
                "amount_off": 500,
                "percent_off": 5,
                "currency": "usd",
                "duration_months": 1,
            },
            {"amount_off"},
        ),
        ({"kind": "pause", "months": 13}, {"months"}),
        ({"kind": "pause"}, {"months"}),
        ({"kind": "gift", "months": 1}, set()),
        ({"kind": "gift", "months": 0}, {"months"}),
        ({"kind": "trial_extension", "days": 14}, set()),
        ({"kind": "trial_extension", "days": 91}, {"days"}),
    ],
)
def test_offers_must_be_complete(offer, fields):
    assert offer_problem_fields(offer) == {PREFIX + f for f in fields}


def test_offer_copy_is_required():
    data = doc()
    node(data, "offer_pause")["variants"][0]["offer"] = {"kind": "pause", "months": 1}
    out = problems(data)
    assert {p.field for p in out} == {PREFIX + "headline", PREFIX + "accept_label"}
    assert all(p.node_id == "offer_pause" for p in out)


def test_variants_are_counted_and_weighted():
    data = doc()
    price = node(data, "offer_price")
    price["variants"][1]["weight"] = 0
    assert {p.field for p in problems(data)} == {"variants[1].weight"}
    price["variants"] = price["variants"] * 3  # six variants, duplicate ids
    fields = {p.field for p in problems(data)}
    assert "variants" in fields and "variants[2].id" in fields
    price["variants"] = []
    assert {p.field for p in problems(data)} == {"variants"}


def test_stories_need_words_and_a_name():
    data = doc()
    data["nodes"].insert(
        1,
        {
            "id": "stories",
            "type": "stories",
            "title": "Others stayed",
            "stories": [{"quote": "", "author": ""}],
            "next": "confirm",
        },
    )
    node(data, "survey")["reasons"][2]["next"] = "stories"
    assert {p.field for p in problems(data)} == {"stories[0].quote", "stories[0].author"}
    node(data, "stories")["stories"] = []
    assert {p.field for p in problems(data)} == {"stories"}


def test_survey_codes_labels_and_free_text():
    data = doc()
    survey = node(data, "survey")
    survey["reasons"][1]["code"] = "too_expensive"
    survey["reasons"][2]["code"] = "Not OK"
    survey["reasons"][2]["label"] = ""
    survey["free_text"] = {"enabled": True, "label": ""}
    fields = {p.field for p in problems(data)}
    assert fields == {"reasons[1].code", "reasons[2].code", "reasons[2].label", "free_text.label"}


def test_every_problem_is_one_sentence_ending_in_a_full_stop():
    data = doc(name="", start="nope", settings={"cancel_at": "x"})
    node(data, "offer_pause")["variants"][0]["offer"] = {"kind": "call"}
    for p in problems(data):
        assert p.message.endswith(".") and p.message[0].isupper()
        assert "None" not in p.message
