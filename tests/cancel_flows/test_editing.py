"""Builder edits as pure functions: forms in, flows out."""

from __future__ import annotations

import pytest

from backstop.cancel_flows import document, editing, templates


@pytest.fixture
def standard():
    return templates.build("SaaS Standard")


def test_a_survey_form_replaces_reasons_skips_blank_rows_and_makes_codes(standard):
    flow = editing.apply_node_form(
        standard,
        "survey",
        {
            "title": "  Why?  ",
            "reason-0-label": "Too pricey",
            "reason-0-code": "too_expensive",
            "reason-0-next": "offer_discount",
            "reason-1-label": "Gone to Notion, sadly",
            "reason-1-next": "confirm",
            "reason-2-label": "",
            "reason-2-code": "",
            "reason-2-next": "",
            "reason-3-label": "Remove me",
            "reason-3-delete": "1",
        },
    )
    survey = flow.node("survey")
    assert survey.title == "Why?"
    assert [(r.code, r.label, r.next) for r in survey.reasons] == [
        ("too_expensive", "Too pricey", "offer_discount"),
        ("gone_to_notion_sadly", "Gone to Notion, sadly", "confirm"),
    ]
    assert survey.free_text == document.FreeText(False, "")
    assert flow.node("offer_discount") == standard.node("offer_discount")  # others untouched


def test_an_offer_form_keeps_only_the_chosen_kinds_fields_and_tolerates_junk_numbers(standard):
    form = {
        "variant-0-id": "a",
        "variant-0-weight": "lots",
        "variant-0-kind": "pause",
        "variant-0-months": "3",
        "variant-0-percent_off": "40",
        "variant-0-headline": "Pause",
        "variant-0-accept_label": "Pause it",
        "on_decline": "confirm",
    }
    flow = editing.apply_node_form(standard, "offer_discount", form)
    [variant] = flow.node("offer_discount").variants
    assert variant.weight == 0
    assert (variant.offer.kind, variant.offer.months, variant.offer.percent_off) == ("pause", 3, None)
    fields = {p.field for p in document.validate(flow)}
    assert fields == {"variants[0].weight"}


def test_a_discount_can_last_forever_and_variants_can_be_added_up_to_four(standard):
    form = {
        "variant-0-id": "a",
        "variant-0-weight": "50",
        "variant-0-kind": "discount",
        "variant-0-percent_off": "10",
        "variant-0-forever": "1",
        "variant-0-headline": "10% off for good",
        "variant-0-accept_label": "Yes please",
        "on_decline": "offer_pause",
        "op": "add_variant",
    }
    flow = editing.apply_node_form(standard, "offer_discount", form)
    variants = flow.node("offer_discount").variants
    assert [(v.id, v.weight, v.offer.duration_months) for v in variants] == [
        ("a", 50, "forever"),
        ("b", 50, "forever"),
    ]
    for _ in range(5):
        form = {**form, **{f"variant-{i}-id": v.id for i, v in enumerate(variants)}}
        for i, v in enumerate(variants):
            form.update(
                {
                    f"variant-{i}-weight": str(v.weight),
                    f"variant-{i}-kind": "discount",
                    f"variant-{i}-percent_off": "10",
                }
            )
        flow = editing.apply_node_form(flow, "offer_discount", form)
        variants = flow.node("offer_discount").variants
    assert len(variants) == 4


def test_adding_a_node_gives_it_a_fresh_id_and_deleting_unsets_links(standard):
    flow, new_id = editing.add_node(standard, "offer")
    assert new_id == "offer_1"
    flow, second = editing.add_node(flow, "offer")
    assert second == "offer_2"
    flow = editing.delete_node(flow, "offer_pause")
    assert flow.node("offer_pause") is None
    assert flow.node("offer_discount").on_decline is None
    assert [r.next for r in flow.node("survey").reasons if r.code == "not_using"] == [None]
    with pytest.raises(ValueError):
        editing.add_node(flow, "wizard")


def test_deleting_the_start_moves_it_and_the_first_node_of_an_empty_flow_becomes_start():
    flow = editing.delete_node(templates.build("Blank"), "survey")
    assert flow.start == "confirm"
    empty = document.Flow(name="x", start="", nodes=())
    flow, node_id = editing.add_node(empty, "survey")
    assert flow.start == node_id == "survey_1"


def test_settings_form_changes_name_start_and_behaviour_but_ignores_unknown_start(standard):
    flow = editing.apply_settings_form(
        standard, {"name": "Main", "start": "offer_pause", "cancel_at": "immediately", "proration": "none"}
    )
    assert (flow.name, flow.start, flow.settings.cancel_at, flow.settings.proration) == (
        "Main",
        "offer_pause",
        "immediately",
        "none",
    )
    same = editing.apply_settings_form(standard, {"name": "", "start": "nowhere"})
    assert (same.name, same.start) == ("SaaS Standard", "survey")
