"""The Get set up checklist: the seed's five steps, ticked from what is really in the database."""

from __future__ import annotations

import pytest

from backstop.workspaces import checklist
from backstop.workspaces.workspaces import create_workspace, set_embed_step_done
from tests.builders import SEED_TITLES, connect_stripe, put_open_campaign, put_row


def done_steps(db, workspace) -> list[int]:
    fresh = db.execute("SELECT embed_step_done_at FROM workspaces WHERE id = ?", [workspace.id]).fetchone()
    steps = checklist.steps(db, workspace.id, workspace.slug, fresh[0])
    return [s.number for s in steps if s.done]


def test_it_lists_the_five_steps_of_the_seed_in_order_none_done(db, acme):
    steps = checklist.steps(db, acme.id, acme.slug, None)
    assert [s.number for s in steps] == [1, 2, 3, 4, 5]
    assert [s.title for s in steps] == SEED_TITLES
    assert not any(s.done for s in steps)
    assert [s.manual for s in steps] == [False, False, False, True, False]
    assert all(s.link.startswith("/w/acme/") for s in steps)


def test_it_ticks_connect_stripe_only_when_the_connection_is_live(db, acme):
    connect_stripe(db, acme.id, "revoked", 0)
    assert done_steps(db, acme) == []
    db.execute("UPDATE stripe_connections SET status = 'live' WHERE workspace_id = ?", [acme.id])
    assert done_steps(db, acme) == [1]


def test_it_ticks_the_send_domain_only_once_verified(db, acme):
    put_row(db, "send_domains", {"workspace_id": acme.id, "domain": "mail.acme.test", "status": "pending"})
    assert done_steps(db, acme) == []
    db.execute("UPDATE send_domains SET status = 'verified' WHERE workspace_id = ?", [acme.id])
    assert done_steps(db, acme) == [2]


def test_it_ticks_the_cancel_flow_step_when_a_version_is_published(db, box, acme, marco):
    from backstop.cancel_flows import flows, templates

    draft = flows.create_flow(db, acme.id, templates.build("Agency / Pro Service"))
    assert done_steps(db, acme) == []  # a draft is not enough
    globex, _ = create_workspace(db, box, "Globex", marco.admin, "globex")
    theirs = flows.create_flow(db, globex.id, templates.build("SaaS Standard"))
    assert flows.publish(db, globex.id, theirs.id).status == "published"
    assert done_steps(db, acme) == []  # another workspace's flow doesn't count
    mine = flows.create_flow(db, acme.id, templates.build("SaaS Standard"))
    assert flows.publish(db, acme.id, mine.id).status == "published"
    assert draft.id != mine.id
    assert done_steps(db, acme) == [3]


def test_it_ticks_the_embed_step_by_hand_and_unticks_it_by_hand(db, acme):
    set_embed_step_done(db, acme, True)
    assert done_steps(db, acme) == [4]
    set_embed_step_done(db, acme, False)
    assert done_steps(db, acme) == []


def test_it_ticks_the_last_step_when_the_first_campaign_opens(db, acme):
    put_open_campaign(db, acme.id)
    assert done_steps(db, acme) == [5]


def test_it_ticks_steps_from_this_workspace_only(db, box, acme, marco):
    side, _ = create_workspace(db, box, "Side", marco.admin, "side")
    connect_stripe(db, side.id, "live", 1)
    put_open_campaign(db, side.id)
    set_embed_step_done(db, side, True)
    assert done_steps(db, acme) == []
    assert done_steps(db, side) == [1, 4, 5]


@pytest.mark.parametrize(("livemode", "label"), [(0, "testmode"), (1, "livemode")])
def test_it_names_the_mode_stripe_was_connected_in(db, acme, livemode, label):
    assert checklist.mode_label(db, acme.id) is None
    connect_stripe(db, acme.id, "live", livemode)
    assert checklist.mode_label(db, acme.id) == label
