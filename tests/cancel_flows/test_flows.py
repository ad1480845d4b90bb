"""Stored flows: drafts, publishing versions, traffic, the active flow, policies and approvals."""

from __future__ import annotations

import copy

import pytest

from backstop.cancel_flows import document, flows
from backstop.cancel_flows.policy import OfferPolicy
from backstop.workspaces.errors import NotFound, ValidationError
from tests.builders import STANDARD


def standard(**changes):
    data = copy.deepcopy(STANDARD)
    data.update(changes)
    return document.parse(data)


def test_the_first_flow_becomes_active_and_later_ones_do_not(db, acme):
    first = flows.create_flow(db, acme.id, standard(), template="SaaS Standard")
    second = flows.create_flow(db, acme.id, standard(name="Second"))
    assert first.is_active and not second.is_active
    assert flows.active_flow(db, acme.id).id == first.id
    assert flows.active_flow(db, acme.id).draft == standard()
    assert first.draft_json["format"] == document.FORMAT
    assert first.template == "SaaS Standard"
    flows.set_active(db, acme.id, second.id)
    assert flows.active_flow(db, acme.id).id == second.id
    assert not flows.get_flow(db, acme.id, first.id).is_active


def test_a_flow_of_another_workspace_is_not_found(db, acme, globex):
    theirs = flows.create_flow(db, globex.id, standard())
    assert flows.get_flow(db, acme.id, theirs.id) is None
    assert flows.active_flow(db, acme.id) is None
    with pytest.raises(NotFound):
        flows.save_draft(db, acme.id, theirs.id, standard(name="Hijack"))
    with pytest.raises(NotFound):
        flows.publish(db, acme.id, theirs.id)
    with pytest.raises(NotFound):
        flows.set_active(db, acme.id, theirs.id)
    published = flows.publish(db, globex.id, theirs.id)
    assert flows.get_version(db, acme.id, published.version.id) is None
    assert flows.live_versions(db, acme.id, theirs.id) == []
    assert not flows.has_published_version(db, acme.id)
    assert flows.has_published_version(db, globex.id)


def test_saving_a_draft_keeps_published_versions_unchanged(db, acme):
    record = flows.create_flow(db, acme.id, standard())
    v1 = flows.publish(db, acme.id, record.id).version
    flows.save_draft(db, acme.id, record.id, standard(name="Renamed"))
    assert flows.get_flow(db, acme.id, record.id).name == "Renamed"
    assert flows.get_version(db, acme.id, v1.id).flow.name == "SaaS Standard"


def test_publishing_numbers_versions_and_gives_the_new_one_all_traffic(db, acme):
    record = flows.create_flow(db, acme.id, standard())
    r1 = flows.publish(db, acme.id, record.id, admin_id=None)
    assert r1.status == "published" and r1.version.version == 1 and r1.version.traffic_percent == 100
    r2 = flows.publish(db, acme.id, record.id)
    assert r2.version.version == 2
    live = flows.live_versions(db, acme.id, record.id)
    assert [(v.version, v.traffic_percent) for v in live] == [(2, 100)]
    assert [v.version for v in flows.versions(db, acme.id, record.id)] == [2, 1]


def test_publishing_an_invalid_draft_is_refused_with_the_problems(db, acme):
    data = copy.deepcopy(STANDARD)
    data["nodes"][0]["reasons"][1]["next"] = None
    record = flows.create_flow(db, acme.id, document.parse(data))
    result = flows.publish(db, acme.id, record.id)
    assert result.status == "refused" and result.version is None
    assert [(p.node_id, p.field) for p in result.problems] == [("survey", "reasons[1].next")]
    assert not flows.has_published_version(db, acme.id)


def test_traffic_must_sum_to_100(db, acme):
    record = flows.create_flow(db, acme.id, standard())
    v1 = flows.publish(db, acme.id, record.id).version
    v2 = flows.publish(db, acme.id, record.id).version
    with pytest.raises(ValidationError, match="add up to 100%; it adds up to 90%"):
        flows.set_traffic(db, acme.id, record.id, {v1.id: 40, v2.id: 50}, 0)
    flows.set_traffic(db, acme.id, record.id, {v1.id: 30, v2.id: 70}, 10)
    live = flows.live_versions(db, acme.id, record.id)
    assert [(v.version, v.traffic_percent) for v in live] == [(1, 30), (2, 70)]
    assert flows.get_flow(db, acme.id, record.id).holdout_percent == 10
    with pytest.raises(ValidationError, match="holdout"):
        flows.set_traffic(db, acme.id, record.id, {v1.id: 100}, 80)


def test_traffic_refuses_versions_of_another_flow(db, acme):
    a = flows.create_flow(db, acme.id, standard())
    b = flows.create_flow(db, acme.id, standard(name="B"))
    flows.publish(db, acme.id, a.id)
    vb = flows.publish(db, acme.id, b.id).version
    with pytest.raises(ValidationError, match="doesn't belong"):
        flows.set_traffic(db, acme.id, a.id, {vb.id: 100}, 0)


def test_the_active_flow_cannot_be_deleted(db, acme):
    a = flows.create_flow(db, acme.id, standard())
    b = flows.create_flow(db, acme.id, standard(name="B"))
    with pytest.raises(ValidationError, match="active flow"):
        flows.archive_flow(db, acme.id, a.id)
    flows.archive_flow(db, acme.id, b.id)
    assert flows.get_flow(db, acme.id, b.id) is None
    assert [f.id for f in flows.list_flows(db, acme.id)] == [a.id]


def test_offer_policy_defaults_and_saves(db, acme, globex):
    assert flows.offer_policy(db, acme.id) == OfferPolicy(cooldown_days=90)
    flows.save_offer_policy(db, acme.id, OfferPolicy(30, 25, 1, 5000, "USD"))
    assert flows.offer_policy(db, acme.id) == OfferPolicy(30, 25, 1, 5000, "usd")
    assert flows.offer_policy(db, globex.id).cooldown_days == 90
    with pytest.raises(ValidationError, match="currency"):
        flows.save_offer_policy(db, acme.id, OfferPolicy(30, None, None, 5000, None))
    with pytest.raises(ValidationError, match="cooldown"):
        flows.save_offer_policy(db, acme.id, OfferPolicy(-1))


def test_offers_over_the_threshold_wait_for_an_owner(db, acme, olivia):
    flows.save_offer_policy(db, acme.id, OfferPolicy(90, max_percent_off=25))
    record = flows.create_flow(db, acme.id, standard())
    result = flows.publish(db, acme.id, record.id, admin_id=olivia.admin.id)
    assert result.status == "pending_approval" and result.version is None
    assert result.approval_reasons == ["“Stay for 30% less” takes 30% off; the limit is 25%."]
    [pending] = flows.pending_approvals(db, acme.id)
    assert pending.flow_name == "SaaS Standard" and pending.requested_by_email == "olivia@acme.test"
    assert not flows.has_published_version(db, acme.id)

    # The draft changes after the request: approving publishes what was requested.
    flows.save_draft(db, acme.id, record.id, standard(name="Changed later"))
    decided = flows.decide_approval(db, acme.id, pending.id, approve=True, admin_id=olivia.admin.id)
    assert decided.status == "approved"
    version = flows.get_version(db, acme.id, decided.version_id)
    assert version.version == 1 and version.flow.name == "SaaS Standard"
    assert flows.pending_approvals(db, acme.id) == []
    with pytest.raises(ValidationError, match="already approved"):
        flows.decide_approval(db, acme.id, pending.id, approve=False, admin_id=olivia.admin.id)


def test_a_rejected_request_publishes_nothing_and_a_new_one_supersedes(db, acme, globex):
    flows.save_offer_policy(db, acme.id, OfferPolicy(90, max_percent_off=10))
    record = flows.create_flow(db, acme.id, standard())
    first = flows.publish(db, acme.id, record.id)
    second = flows.publish(db, acme.id, record.id)
    assert [a.id for a in flows.pending_approvals(db, acme.id)] == [second.approval_id]
    assert flows.get_approval(db, acme.id, first.approval_id).status == "superseded"
    with pytest.raises(NotFound):
        flows.decide_approval(db, globex.id, second.approval_id, approve=True, admin_id=None)
    flows.decide_approval(db, acme.id, second.approval_id, approve=False, admin_id=None)
    assert not flows.has_published_version(db, acme.id)


def test_publishing_within_the_threshold_supersedes_a_waiting_request(db, acme):
    flows.save_offer_policy(db, acme.id, OfferPolicy(90, max_percent_off=25))
    record = flows.create_flow(db, acme.id, standard())
    waiting = flows.publish(db, acme.id, record.id)
    assert waiting.status == "pending_approval"
    data = copy.deepcopy(STANDARD)
    for variant in data["nodes"][1]["variants"]:
        variant["offer"]["percent_off"] = 20
    flows.save_draft(db, acme.id, record.id, document.parse(data))
    assert flows.publish(db, acme.id, record.id).status == "published"
    assert flows.pending_approvals(db, acme.id) == []
    assert flows.get_approval(db, acme.id, waiting.approval_id).status == "superseded"
