"""Cancel flows in the admin: the list and gallery, the builder, publishing, versions & traffic,
import/export, approvals and offer policies — over HTTP like a browser without scripts."""

from __future__ import annotations

import json
import re

import pytest

from backstop.cancel_flows import flows, templates
from backstop.cancel_flows.policy import OfferPolicy
from backstop.workspaces.workspaces import create_workspace
from tests.builders import text_of
from tests.conftest import csrf_from, post_form

LIST = "/w/acme/cancel-flows"


def use(client, name: str):
    return post_form(client, LIST, f"{LIST}/from-template", {"template": name})


def flow_id_of(response) -> int:
    return int(re.search(r"/cancel-flows/(\d+)", response.headers["location"]).group(1))


def test_the_list_shows_an_empty_state_and_the_twelve_templates(as_olivia):
    response = as_olivia.get(LIST)
    assert response.status_code == 200
    text = text_of(response.text)
    assert "No cancel flow yet." in text
    for name in templates.NAMES:
        assert f"Use {name}" in text
    assert "isn't built yet" not in text
    assert 'aria-current="page">Cancel flows<' in response.text


def test_using_a_template_publishes_v1_and_lists_it_live_and_active(as_olivia, db, acme):
    response = use(as_olivia, "SaaS Standard")
    assert response.status_code in (302, 303)
    flow_id = flow_id_of(response)
    page = as_olivia.get(response.headers["location"])
    text = text_of(page.text)
    assert "Published v1: it now gets all of this flow's traffic." in text
    assert "Ready to publish" in text
    listing = text_of(as_olivia.get(LIST).text)
    assert "SaaS Standard Active From SaaS Standard" in listing
    assert "Live" in listing and "v1 100%" in listing
    assert flows.active_flow(db, acme.id).id == flow_id


def test_a_draft_template_says_what_to_fill_in_and_points_at_the_node(as_olivia):
    response = use(as_olivia, "Agency / Pro Service")
    flow_id = flow_id_of(response)
    page = as_olivia.get(response.headers["location"])
    text = text_of(page.text)
    assert "Created as a draft" in text
    assert "1 thing to fix before publishing" in text
    assert "Paste your booking page's https:// link" in text
    # The message links to the node and its field, and the node is marked on the canvas.
    assert (
        f'href="/w/acme/cancel-flows/{flow_id}?node=offer_call#f-variants-0-offer-booking_url"' in page.text
    )
    assert re.search(r'class="node node-offer has-problem" data-node="offer_call"', page.text)
    node_page = as_olivia.get(f"/w/acme/cancel-flows/{flow_id}?node=offer_call")
    assert 'id="f-variants-0-offer-booking_url"' in node_page.text
    assert 'aria-invalid="true" aria-describedby="e-f-variants-0-offer-booking_url"' in node_page.text


def test_editing_a_node_saves_the_draft_and_clears_the_problem(as_olivia, db, acme):
    flow_id = flow_id_of(use(as_olivia, "Agency / Pro Service"))
    url = f"/w/acme/cancel-flows/{flow_id}?node=offer_call"
    page = as_olivia.get(url).text
    form = {
        "_csrf_token": csrf_from(page),
        "variant-0-id": "a",
        "variant-0-kind": "call",
        "variant-0-weight": "100",
        "variant-0-booking_url": "https://cal.com/acme/15min",
        "variant-0-headline": "Can we talk it through?",
        "variant-0-body": "Fifteen minutes, no hard sell.",
        "variant-0-accept_label": "Book a call",
        "on_decline": "offer_pause",
    }
    saved = as_olivia.post(
        f"/w/acme/cancel-flows/{flow_id}/nodes/offer_call", data=form, follow_redirects=False
    )
    assert saved.status_code in (302, 303)
    assert saved.headers["location"] == f"/w/acme/cancel-flows/{flow_id}?node=offer_call"
    offer = flows.get_flow(db, acme.id, flow_id).draft.node("offer_call").variants[0].offer
    assert offer.booking_url == "https://cal.com/acme/15min"
    assert "Ready to publish" in text_of(as_olivia.get(url).text)


def test_autosave_answers_with_the_fresh_canvas_and_problems(as_olivia, db, acme):
    flow_id = flow_id_of(use(as_olivia, "SaaS Standard"))
    page = as_olivia.get(f"/w/acme/cancel-flows/{flow_id}?node=survey").text
    form = {
        "_csrf_token": csrf_from(page),
        "title": "Why are you leaving?",
        "reason-0-label": "Too pricey",
        "reason-0-code": "too_expensive",
        "reason-0-next": "",
    }
    response = as_olivia.post(
        f"/w/acme/cancel-flows/{flow_id}/nodes/survey", data=form, headers={"X-Backstop-Autosave": "1"}
    )
    assert response.status_code == 201 or response.status_code == 200
    assert 'id="flow-canvas"' in response.text and 'id="flow-problems"' in response.text
    assert "Choose the step reason “Too pricey” leads to." in text_of(response.text)
    assert "<html" not in response.text  # a fragment, not a page
    draft = flows.get_flow(db, acme.id, flow_id).draft
    assert draft.node("survey").title == "Why are you leaving?"
    assert [r.label for r in draft.node("survey").reasons] == ["Too pricey"]


def test_reasons_rows_add_remove_and_make_codes_from_labels(as_olivia, db, acme):
    flow_id = flow_id_of(use(as_olivia, "Blank"))
    page = as_olivia.get(f"/w/acme/cancel-flows/{flow_id}?node=survey").text
    form = {
        "_csrf_token": csrf_from(page),
        "title": "What's up?",
        "reason-0-label": "It's too expensive",
        "reason-0-code": "too_expensive",
        "reason-0-next": "confirm",
        "reason-1-label": "Going away",
        "reason-1-code": "other",
        "reason-1-next": "confirm",
        "reason-1-delete": "1",
        "reason-2-label": "Moving to Paddle",
        "reason-2-code": "",
        "reason-2-next": "confirm",
        "free_text_enabled": "1",
        "free_text_label": "Tell us more",
    }
    as_olivia.post(f"/w/acme/cancel-flows/{flow_id}/nodes/survey", data=form)
    reasons = flows.get_flow(db, acme.id, flow_id).draft.node("survey").reasons
    assert [(r.code, r.label) for r in reasons] == [
        ("too_expensive", "It's too expensive"),
        ("moving_to_paddle", "Moving to Paddle"),
    ]


def test_adding_and_deleting_nodes_and_changing_an_offer_kind(as_olivia, db, acme):
    flow_id = flow_id_of(use(as_olivia, "Blank"))
    base = f"/w/acme/cancel-flows/{flow_id}"
    added = post_form(as_olivia, base, f"{base}/nodes", {"type": "offer"})
    assert added.headers["location"] == f"{base}?node=offer_1"
    page = as_olivia.get(f"{base}?node=offer_1")
    text = text_of(page.text)
    assert "No step leads here" in text
    assert "Offer · Discount · not reached" in text
    form = {
        "_csrf_token": csrf_from(page.text),
        "variant-0-id": "a",
        "variant-0-weight": "100",
        "variant-0-kind": "pause",
        "on_decline": "confirm",
    }
    as_olivia.post(f"{base}/nodes/offer_1", data=form)
    assert 'name="variant-0-months"' in as_olivia.get(f"{base}?node=offer_1").text
    add_variant = {**form, "variant-0-months": "2", "op": "add_variant"}
    as_olivia.post(f"{base}/nodes/offer_1", data=add_variant)
    node = flows.get_flow(db, acme.id, flow_id).draft.node("offer_1")
    assert [(v.id, v.offer.kind, v.offer.months) for v in node.variants] == [
        ("a", "pause", 2),
        ("b", "pause", 2),
    ]
    deleted = post_form(as_olivia, f"{base}?node=offer_1", f"{base}/nodes/offer_1/delete", {})
    assert deleted.status_code in (302, 303)
    assert flows.get_flow(db, acme.id, flow_id).draft.node("offer_1") is None
    assert post_form(as_olivia, base, f"{base}/nodes", {"type": "wizard"}).status_code == 400


def test_publish_is_refused_with_the_problems_then_succeeds(as_olivia, db, acme):
    flow_id = flow_id_of(use(as_olivia, "Fitness / Wellness"))
    base = f"/w/acme/cancel-flows/{flow_id}"
    refused = post_form(as_olivia, base, f"{base}/publish", {})
    assert refused.status_code == 400
    text = text_of(refused.text)
    assert "Not published: 2 things to fix first" in text
    assert "Write story 1's quote" in text
    assert not flows.has_published_version(db, acme.id)
    page = as_olivia.get(f"{base}?node=stories").text
    as_olivia.post(
        f"{base}/nodes/stories",
        data={
            "_csrf_token": csrf_from(page),
            "title": "You're not alone",
            "story-0-quote": "Pausing for a month got me back on track.",
            "story-0-author": "Priya",
            "next": "offer_pause",
        },
    )
    published = post_form(as_olivia, base, f"{base}/publish", {})
    assert published.headers["location"].endswith("notice=published&v=1")
    assert flows.has_published_version(db, acme.id)
    assert "Publish v2" in as_olivia.get(base).text


def test_flow_settings_save(as_olivia, db, acme):
    flow_id = flow_id_of(use(as_olivia, "Blank"))
    base = f"/w/acme/cancel-flows/{flow_id}"
    post_form(
        as_olivia,
        base,
        f"{base}/settings",
        {"name": "Main flow", "start": "survey", "cancel_at": "immediately", "proration": "none"},
    )
    draft = flows.get_flow(db, acme.id, flow_id).draft
    assert (draft.name, draft.settings.cancel_at, draft.settings.proration) == (
        "Main flow",
        "immediately",
        "none",
    )
    assert "Main flow" in text_of(as_olivia.get(LIST).text)


def test_export_downloads_json_and_import_makes_a_draft(as_olivia, db, acme):
    flow_id = flow_id_of(use(as_olivia, "Pause Instead"))
    exported = as_olivia.get(f"/w/acme/cancel-flows/{flow_id}/export.json")
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("application/json")
    assert "attachment" in exported.headers["content-disposition"]
    doc = exported.json()
    assert doc["name"] == "Pause Instead"
    assert as_olivia.get(f"/w/acme/cancel-flows/{flow_id}/export.json?version=1").json() == doc
    assert as_olivia.get(f"/w/acme/cancel-flows/{flow_id}/export.json?version=9").status_code == 404

    doc["name"] = "Imported pause"
    token = csrf_from(as_olivia.get(LIST).text)
    imported = as_olivia.post(
        f"{LIST}/import",
        data={"_csrf_token": token},
        files={"file": ("pause.json", json.dumps(doc).encode(), "application/json")},
        follow_redirects=False,
    )
    assert imported.status_code in (302, 303), imported.text
    new_id = flow_id_of(imported)
    record = flows.get_flow(db, acme.id, new_id)
    assert record.name == "Imported pause" and not record.is_active
    assert flows.versions(db, acme.id, new_id) == []
    assert "Imported as a draft" in text_of(as_olivia.get(imported.headers["location"]).text)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            b"{not json",
            "pause.json: The file isn't valid JSON: Expecting property name enclosed in double quotes at line 1, column 2.",
        ),
        (b'{"format": "other"}', "pause.json: “format” must be “backstop.cancel_flow/1”"),
        (b"", "pause.json: The file is empty"),
        (b" " * 300_000, "pause.json: The file is larger than 256 KB"),
    ],
)
def test_import_names_what_is_wrong(as_olivia, db, acme, content, message):
    token = csrf_from(as_olivia.get(LIST).text)
    response = as_olivia.post(
        f"{LIST}/import",
        data={"_csrf_token": token},
        files={"file": ("pause.json", content, "application/json")},
    )
    assert response.status_code == 400
    assert message in text_of(response.text)
    assert flows.list_flows(db, acme.id) == []


def test_import_without_a_file_says_so(as_olivia):
    token = csrf_from(as_olivia.get(LIST).text)
    response = as_olivia.post(
        f"{LIST}/import", data={"_csrf_token": token}, files={"file": ("", b"", "application/json")}
    )
    assert response.status_code == 400
    assert "Choose a .json file exported from Backstop." in text_of(response.text)


def test_forms_need_the_csrf_token(as_olivia, db, acme):
    response = as_olivia.post(f"{LIST}/from-template", data={"template": "SaaS Standard"})
    assert response.status_code == 403
    assert flows.list_flows(db, acme.id) == []


def test_another_workspaces_flow_is_a_404_everywhere(as_olivia, db, box, marco):
    globex, _ = create_workspace(db, box, "Globex", marco.admin, "globex")
    theirs = templates.use_template(db, globex.id, "SaaS Standard").flow.id
    token = csrf_from(as_olivia.get(LIST).text)
    base = f"/w/acme/cancel-flows/{theirs}"
    for path in (base, f"{base}?node=survey", f"{base}/versions", f"{base}/export.json"):
        assert as_olivia.get(path).status_code == 404, path
    for path in (
        f"{base}/publish",
        f"{base}/nodes",
        f"{base}/nodes/survey",
        f"{base}/nodes/survey/delete",
        f"{base}/settings",
        f"{base}/traffic",
        f"{base}/activate",
        f"{base}/delete",
    ):
        assert (
            as_olivia.post(path, data={"_csrf_token": token, "type": "offer", "name": "Hijacked"}).status_code
            == 404
        ), path
    assert flows.get_flow(db, globex.id, theirs).name == "SaaS Standard"
    assert len(flows.versions(db, globex.id, theirs)) == 1
    assert as_olivia.get("/w/globex/cancel-flows").status_code == 404
    assert as_olivia.get("/w/acme/cancel-flows/99999999999999999999999").status_code == 404


def test_versions_and_traffic(as_olivia, db, acme):
    flow_id = flow_id_of(use(as_olivia, "SaaS Standard"))
    base = f"/w/acme/cancel-flows/{flow_id}"
    post_form(as_olivia, base, f"{base}/publish", {})
    v1, v2 = sorted(flows.versions(db, acme.id, flow_id), key=lambda v: v.version)
    page = as_olivia.get(f"{base}/versions")
    assert page.status_code == 200
    assert "Versions & traffic" in text_of(page.text)
    bad = post_form(
        as_olivia,
        f"{base}/versions",
        f"{base}/traffic",
        {f"traffic-{v1.id}": "30", f"traffic-{v2.id}": "60", "holdout_percent": "0"},
    )
    assert bad.status_code == 400
    assert "Traffic across versions must add up to 100%; it adds up to 90%." in text_of(bad.text)
    ok = post_form(
        as_olivia,
        f"{base}/versions",
        f"{base}/traffic",
        {f"traffic-{v1.id}": "30", f"traffic-{v2.id}": "70", "holdout_percent": "10"},
    )
    assert ok.status_code in (302, 303)
    assert [(v.version, v.traffic_percent) for v in flows.live_versions(db, acme.id, flow_id)] == [
        (1, 30),
        (2, 70),
    ]
    assert flows.get_flow(db, acme.id, flow_id).holdout_percent == 10
    text = text_of(as_olivia.get(LIST).text)
    assert "v1 30%, v2 70%; holdout 10%" in text
    holdout = post_form(
        as_olivia,
        f"{base}/versions",
        f"{base}/traffic",
        {f"traffic-{v1.id}": "100", f"traffic-{v2.id}": "0", "holdout_percent": "75"},
    )
    assert "The holdout must be a whole percent from 0 to 50." in text_of(holdout.text)
    junk = post_form(
        as_olivia, f"{base}/versions", f"{base}/traffic", {f"traffic-{v1.id}": "lots", "holdout_percent": "0"}
    )
    assert junk.status_code == 400


def test_the_active_flow_switches_and_cannot_be_deleted(as_olivia, db, acme):
    first = flow_id_of(use(as_olivia, "SaaS Standard"))
    second = flow_id_of(use(as_olivia, "Pause Instead"))
    refused = post_form(as_olivia, f"{LIST}/{first}/versions", f"{LIST}/{first}/delete", {})
    assert refused.status_code == 400
    assert "make another flow active before deleting it" in text_of(refused.text)
    post_form(as_olivia, f"{LIST}/{second}/versions", f"{LIST}/{second}/activate", {})
    assert flows.active_flow(db, acme.id).id == second
    gone = post_form(as_olivia, f"{LIST}/{first}/versions", f"{LIST}/{first}/delete", {})
    assert gone.headers["location"] == LIST
    assert as_olivia.get(f"{LIST}/{first}").status_code == 404


def test_a_members_sees_flows_and_can_edit_them(as_marco, db, acme):
    response = use(as_marco, "SaaS Standard")
    assert response.status_code in (302, 303)
    assert flows.has_published_version(db, acme.id)


# Approvals and offer policies


POLICIES = "/w/acme/settings/offer-policies"


def test_offer_policies_page_saves_and_explains_errors(as_olivia, db, acme):
    page = as_olivia.get(POLICIES)
    assert page.status_code == 200
    assert "isn't built yet" not in page.text
    assert 'value="90"' in page.text
    saved = post_form(
        as_olivia,
        POLICIES,
        POLICIES,
        {
            "cooldown_days": "30",
            "max_percent_off": "25",
            "max_free_months": "1",
            "max_value": "50",
            "max_value_currency": "usd",
        },
    )
    assert saved.headers["location"] == f"{POLICIES}?saved=1"
    assert flows.offer_policy(db, acme.id) == OfferPolicy(30, 25, 1, 5000, "usd")
    bad = post_form(as_olivia, POLICIES, POLICIES, {"cooldown_days": "soon", "max_percent_off": "250"})
    assert bad.status_code == 400
    assert "Enter the cooldown as a whole number of days" in text_of(bad.text)
    currency = post_form(
        as_olivia, POLICIES, POLICIES, {"cooldown_days": "30", "max_value": "50", "max_value_currency": ""}
    )
    assert "Give the value limit a three-letter currency" in text_of(currency.text)


def test_members_cannot_change_offer_policies(as_marco, db, acme):
    response = post_form(as_marco, POLICIES, POLICIES, {"cooldown_days": "0"})
    assert response.status_code == 403
    assert "Only an owner" in text_of(response.text)
    assert flows.offer_policy(db, acme.id).cooldown_days == 90


def test_an_offer_over_the_threshold_waits_on_the_overview_until_an_owner_approves(as_olivia, db, acme):
    flows.save_offer_policy(db, acme.id, OfferPolicy(90, max_percent_off=20))
    response = use(as_olivia, "SaaS Standard")
    flow_id = flow_id_of(response)
    page = text_of(as_olivia.get(response.headers["location"]).text)
    assert "Sent for an owner's approval" in page
    assert "takes 25% off; the limit is 20%" in page
    overview = as_olivia.get("/w/acme/overview")
    text = text_of(overview.text)
    assert "Offers waiting for approval" in text and "SaaS Standard" in text
    [approval] = flows.pending_approvals(db, acme.id)
    approved = post_form(
        as_olivia, "/w/acme/overview", f"/w/acme/approvals/{approval.id}/approve?back=overview", {}
    )
    assert approved.headers["location"] == "/w/acme/overview#needs-title"
    assert [v.version for v in flows.live_versions(db, acme.id, flow_id)] == [1]
    assert "Offers waiting for approval" not in text_of(as_olivia.get("/w/acme/overview").text)


def test_members_see_approvals_but_get_a_403_with_a_sentence(client, olivia, db, acme, marco_in_acme):
    from tests.conftest import login

    flows.save_offer_policy(db, acme.id, OfferPolicy(90, max_percent_off=20))
    used = templates.use_template(db, acme.id, "SaaS Standard", admin_id=olivia.admin.id)
    login(client, marco_in_acme)
    text = text_of(client.get("/w/acme/overview").text)
    assert "Offers waiting for approval" in text
    assert "Only an owner can approve or reject it." in text
    approval_id = used.publish.approval_id
    response = post_form(client, "/w/acme/overview", f"/w/acme/approvals/{approval_id}/approve", {})
    assert response.status_code == 403
    assert "Only an owner of this workspace can approve or reject offers" in text_of(response.text)
    assert not flows.has_published_version(db, acme.id)


def test_rejecting_publishes_nothing(as_olivia, db, acme):
    flows.save_offer_policy(db, acme.id, OfferPolicy(90, max_percent_off=20))
    flow_id = flow_id_of(use(as_olivia, "SaaS Standard"))
    [approval] = flows.pending_approvals(db, acme.id)
    rejected = post_form(as_olivia, f"{LIST}/{flow_id}", f"/w/acme/approvals/{approval.id}/reject", {})
    assert "notice=rejected" in rejected.headers["location"]
    assert not flows.has_published_version(db, acme.id)
    assert flows.get_approval(db, acme.id, approval.id).status == "rejected"
