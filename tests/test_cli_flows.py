"""``backstop flows …`` run for real in a subprocess, the way a script keeps flows in git."""

from __future__ import annotations

import json

from backstop.cancel_flows import flows
from backstop.cancel_flows.policy import OfferPolicy
from backstop.cancel_flows.templates import NAMES
from backstop.workspaces.workspaces import get_workspace_by_slug
from tests.builders import assert_fails_with


def test_it_lists_the_twelve_templates(backstop):
    result = backstop("flows", "templates")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == NAMES


def test_use_template_publishes_v1_and_prints_json(with_acme):
    result = with_acme(
        "flows", "use-template", "--workspace", "acme", "--template", "SaaS Standard", "--json"
    )
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert printed == {"flow_id": printed["flow_id"], "version": 1, "status": "published"}
    with with_acme.db() as db:
        ws = get_workspace_by_slug(db, "acme")
        assert flows.active_flow(db, ws["id"]).id == printed["flow_id"]
        assert flows.has_published_version(db, ws["id"])


def test_use_template_lands_a_draft_and_says_what_to_fill_in(with_acme):
    result = with_acme(
        "flows", "use-template", "--workspace", "acme", "--template", "Agency / Pro Service", "--json"
    )
    assert json.loads(result.stdout)["status"] == "draft"
    assert json.loads(result.stdout)["version"] is None
    person = with_acme("flows", "use-template", "--workspace", "acme", "--template", "Agency / Pro Service")
    assert "as a draft. Fill in before publishing" in person.stdout
    assert "offer_call · variants[0].offer.booking_url: Paste your booking page" in person.stdout


def test_use_template_refuses_an_unknown_template_or_workspace(with_acme):
    assert_fails_with(
        with_acme("flows", "use-template", "--workspace", "acme", "--template", "Gold"),
        "no template called “Gold”",
    )
    assert_fails_with(
        with_acme("flows", "use-template", "--workspace", "nope", "--template", "Blank"),
        "No workspace has the slug",
    )


def test_export_then_import_round_trips_and_publish_refuses_then_succeeds(with_acme, tmp_path):
    made = json.loads(
        with_acme(
            "flows", "use-template", "--workspace", "acme", "--template", "Agency / Pro Service", "--json"
        ).stdout
    )
    exported = with_acme("flows", "export", "--workspace", "acme", "--flow", str(made["flow_id"]))
    assert exported.returncode == 0, exported.stderr
    doc = json.loads(exported.stdout)
    assert doc["format"] == "backstop.cancel_flow/1" and doc["name"] == "Agency / Pro Service"

    refused = with_acme("flows", "publish", "--workspace", "acme", "--flow", str(made["flow_id"]))
    assert_fails_with(refused, "can't be published yet", "booking_url")

    call = next(n for n in doc["nodes"] if n["id"] == "offer_call")
    call["variants"][0]["offer"]["booking_url"] = "https://cal.com/acme/15min"
    path = tmp_path / "agency.json"
    path.write_text(json.dumps(doc))
    imported = with_acme("flows", "import", "--workspace", "acme", str(path))
    assert imported.returncode == 0, imported.stderr
    new_id = int(imported.stdout.strip())
    published = with_acme("flows", "publish", "--workspace", "acme", "--flow", str(new_id))
    assert published.returncode == 0, published.stderr
    assert f"Published flow {new_id} as v1" in published.stdout


def test_import_names_what_is_wrong_with_the_file(with_acme, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "backstop.cancel_flow/1", "nodes": [')
    assert_fails_with(
        with_acme("flows", "import", "--workspace", "acme", str(bad)), "bad.json: The file isn't valid JSON"
    )
    bad.write_text(json.dumps({"format": "something/2"}))
    assert_fails_with(with_acme("flows", "import", "--workspace", "acme", str(bad)), "“format” must be")
    with with_acme.db() as db:
        assert flows.list_flows(db, get_workspace_by_slug(db, "acme")["id"]) == []


def test_export_and_publish_do_not_reach_another_workspace(with_acme):
    with_acme("workspace", "create", "--name", "Globex", "--slug", "globex")
    made = json.loads(
        with_acme("flows", "use-template", "--workspace", "globex", "--template", "Blank", "--json").stdout
    )
    assert_fails_with(
        with_acme("flows", "export", "--workspace", "acme", "--flow", str(made["flow_id"])), "has no flow"
    )
    assert_fails_with(
        with_acme("flows", "publish", "--workspace", "acme", "--flow", str(made["flow_id"])), "has no flow"
    )


def test_publish_waits_for_approval_over_the_threshold(with_acme):
    with with_acme.db() as db:
        flows.save_offer_policy(
            db, get_workspace_by_slug(db, "acme")["id"], OfferPolicy(90, max_percent_off=10)
        )
    made = json.loads(
        with_acme(
            "flows", "use-template", "--workspace", "acme", "--template", "SaaS Standard", "--json"
        ).stdout
    )
    assert made["status"] == "draft"
    result = with_acme("flows", "publish", "--workspace", "acme", "--flow", str(made["flow_id"]))
    assert_fails_with(result, "needs an owner's approval", "takes 25% off; the limit is 10%")
