"""The builder's canvas layout: rows top-down, links pointing down, nothing overlapping."""

from __future__ import annotations

import copy
import itertools

import pytest

from backstop.cancel_flows import document, templates
from backstop.cancel_flows.layout import NODE_H, NODE_W, layout
from tests.builders import STANDARD


def overlaps(a, b) -> bool:
    return not (a.x + NODE_W <= b.x or b.x + NODE_W <= a.x or a.y + NODE_H <= b.y or b.y + NODE_H <= a.y)


@pytest.mark.parametrize("name", templates.NAMES)
def test_every_template_draws_top_down_without_overlaps(name):
    canvas = layout(templates.build(name))
    assert {b.node.id for b in canvas.boxes} == {n.id for n in templates.build(name).nodes}
    for a, b in itertools.combinations(canvas.boxes, 2):
        assert not overlaps(a, b), (a.node.id, b.node.id)
    by_id = {b.node.id: b for b in canvas.boxes}
    for e in canvas.edges:
        assert not e.back
        assert by_id[e.target].y > by_id[e.source].y, (e.source, e.target)
    confirm_y = by_id["confirm"].y
    assert all(b.y <= confirm_y for b in canvas.boxes)
    for b in canvas.boxes:
        assert b.x >= 0 and b.x + NODE_W <= canvas.width and b.y + NODE_H <= canvas.height


def test_reasons_to_the_same_step_share_one_labelled_edge():
    canvas = layout(templates.build("Blank"))
    [edge] = canvas.edges
    assert edge.label == "5 reasons"
    assert edge.title.startswith("It's too expensive; I'm not using it enough")


def test_a_loop_is_drawn_as_a_back_edge_and_unreached_steps_are_labelled():
    data = copy.deepcopy(STANDARD)
    data["nodes"][2]["on_decline"] = "offer_price"  # pause → discount → pause …
    data["nodes"].append({"id": "lonely", "type": "confirm", "title": "Bye"})
    canvas = layout(document.parse(data))
    assert [(e.source, e.target) for e in canvas.edges if e.back] == [("offer_pause", "offer_price")]
    lonely = next(b for b in canvas.boxes if b.node.id == "lonely")
    assert lonely.kind_label == "Confirm · not reached"


def test_a_flow_without_a_valid_start_still_draws_every_node():
    data = copy.deepcopy(STANDARD)
    data["start"] = "missing"
    canvas = layout(document.parse(data))
    assert len(canvas.boxes) == 4
