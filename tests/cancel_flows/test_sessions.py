"""Cancel sessions in the domain: opening, stable arms, the walk, Stripe changes made once,
retries, cooldown, holdout and abandonment."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

import pytest
import time_machine

from backstop import clock
from backstop.cancel_flows import flows, runtime, sessions
from backstop.stripe_sync import connection
from tests.cancel_flows.stories import flow_document, mirror_objects, publish_flow, subscriber


@pytest.fixture
def stripe_settings(settings, fake_stripe):
    return replace(settings, stripe_api_base=fake_stripe.url, stripe_connect_base=fake_stripe.url)


@pytest.fixture
def connected(db, box, acme, fake_stripe):
    connection.save_key_connection(
        db, box, acme.id, fake_stripe.add_key(), False, webhook_secret=None, polling=True
    )
    return acme


@pytest.fixture
def gateway_for(db, box, stripe_settings):
    return lambda ws: connection.gateway(db, box, stripe_settings, ws, max_attempts=1)


@pytest.fixture
def live(db, connected, fake_stripe):
    basic = fake_stripe.create_price(1000, "usd", "month", product_name="Basic")
    mirror_objects(db, connected.id, fake_stripe, basic["product"], basic["id"])
    return (*publish_flow(db, connected.id, flow_document(downgrade_price=basic["id"])), basic)


@pytest.fixture
def sam(db, connected, fake_stripe):
    return subscriber(db, connected.id, fake_stripe)


def _open(db, ws, who, **kw):
    return sessions.open_session(
        db, ws, who.customer["id"], None, return_url=kw.get("return_url"), source="hosted"
    )


def _post(db, session, **form):
    node = sessions.by_key(db, session.key).step
    return sessions.answer(db, session.key, {"step": node, **form})


def test_it_opens_on_the_survey_with_the_subscription_and_its_mrr(db, connected, live, sam):
    session = _open(db, connected, sam)
    assert session.key and session.step == "survey" and session.state == "open"
    assert (session.subscription_id, session.mrr_at_stake, session.currency) == (
        sam.subscription["id"],
        3000,
        "usd",
    )
    assert (session.arm, session.version) == ("v1", 1)
    assert sessions.by_key(db, session.key).id == session.id
    assert sessions.by_key(db, session.key + "x") is None
    assert db.execute("SELECT key_hash FROM cancel_sessions").fetchone()[0] != session.key


def test_too_expensive_then_accept_applies_the_coupon_once(
    db, connected, live, sam, fake_stripe, gateway_for
):
    session = _open(db, connected, sam)
    after, action_id = _post(
        db, session, action="reason", reason="too_expensive", free_text="Budget <b>cut</b>"
    )
    assert (after.step, action_id) == ("offer_price", None)
    assert json.loads(after.offers_shown) == [{"node": "offer_price", "variant": "a", "kind": "discount"}]
    decided, action_id = _post(db, session, action="accept")
    assert (decided.outcome, decided.state, decided.mrr_saved) == ("saved_discount", "pending_action", 2100)
    # A double click: the same form again changes nothing and plans nothing new.
    again, second = sessions.answer(db, session.key, {"step": "offer_price", "action": "accept"})
    assert second is None and again.outcome == "saved_discount"

    assert sessions.run_action(db, action_id, gateway_for) == "done"
    assert sessions.run_action(db, action_id, gateway_for) == "skipped"
    # A job retried after its row was released runs the same requests with the same keys.
    db.execute("UPDATE cancel_actions SET work_state = 'pending' WHERE id = ?", [action_id])
    assert sessions.run_action(db, action_id, gateway_for) == "done"

    sub = fake_stripe.get(sam.subscription["id"])
    assert len(sub["discounts"]) == 1
    discount = fake_stripe.get(sub["discounts"][0])
    coupon = fake_stripe.get(discount["source"]["coupon"])
    assert (coupon["percent_off"], coupon["duration_in_months"], coupon["max_redemptions"]) == (30, 3, 1)
    assert coupon["times_redeemed"] == 1
    done = sessions.get(db, connected.id, session.id)
    assert (done.state, done.reason_code, done.free_text) == (
        "finished",
        "too_expensive",
        "Budget <b>cut</b>",
    )
    assert json.loads(done.offer_accepted)["percent_off"] == 30


def test_not_using_then_pause(db, connected, live, sam, fake_stripe, gateway_for):
    session = _open(db, connected, sam)
    _post(db, session, action="reason", reason="not_using")
    decided, action_id = _post(db, session, action="accept")
    assert decided.outcome == "saved_pause" and decided.mrr_saved == 3000
    assert sessions.run_action(db, action_id, gateway_for) == "done"
    pause = fake_stripe.get(sam.subscription["id"])["pause_collection"]
    expected = runtime.add_months(clock.parse(decided.decided_at), 2)
    assert pause == {"behavior": "void", "resumes_at": int(expected.timestamp())}


def test_missing_features_then_downgrade(db, connected, live, sam, fake_stripe, gateway_for):
    basic = live[2]
    session = _open(db, connected, sam)
    _post(db, session, action="reason", reason="missing_features")
    decided, action_id = _post(db, session, action="accept")
    assert (decided.outcome, decided.mrr_saved) == ("saved_downgrade", 1000)
    assert sessions.run_action(db, action_id, gateway_for) == "done"
    items = fake_stripe.get(sam.subscription["id"])["items"]["data"]
    assert [i["price"]["id"] for i in items] == [basic["id"]]


def test_decline_everything_then_cancel_at_period_end_with_feedback(
    db, connected, live, sam, fake_stripe, gateway_for
):
    session = _open(db, connected, sam)
    _post(db, session, action="reason", reason="too_expensive", free_text="Too pricey for us")
    assert _post(db, session, action="decline")[0].step == "offer_pause"
    assert _post(db, session, action="decline")[0].step == "confirm"
    decided, action_id = _post(db, session, action="cancel")
    assert (decided.outcome, decided.mrr_saved) == ("canceled", 0)
    assert sessions.run_action(db, action_id, gateway_for) == "done"
    sub = fake_stripe.get(sam.subscription["id"])
    assert sub["cancel_at_period_end"] is True and sub["status"] == "active"
    assert sub["cancellation_details"]["feedback"] == "too_expensive"
    assert sub["cancellation_details"]["comment"] == "Too pricey for us"
    shown = [o["node"] for o in json.loads(sessions.get(db, connected.id, session.id).offers_shown)]
    assert shown == ["offer_price", "offer_pause"]


def test_cancel_anyway_from_every_step(db, connected, live, sam, fake_stripe, gateway_for):
    routes = {"survey": [], "offer_price": [("reason", "too_expensive")], "stories": [("reason", "other")]}
    routes["offer_pause"] = [("reason", "too_expensive"), ("decline", None)]
    routes["confirm"] = [("reason", "other"), ("next", None)]
    for target, steps in routes.items():
        session = _open(db, connected, sam)
        for action, reason in steps:
            _post(db, session, action=action, reason=reason)
        assert sessions.by_key(db, session.key).step == target
        decided, action_id = sessions.answer(db, session.key, {"action": "cancel"})
        assert decided.outcome == "canceled" and action_id is not None, target


def test_cancel_immediately_when_the_flow_says_so(db, connected, fake_stripe, gateway_for):
    publish_flow(db, connected.id, flow_document(cancel_at="immediately"))
    sam = subscriber(db, connected.id, fake_stripe)
    session = _open(db, connected, sam)
    _, action_id = sessions.answer(db, session.key, {"action": "cancel"})
    assert sessions.run_action(db, action_id, gateway_for) == "done"
    db.execute("UPDATE cancel_actions SET work_state = 'pending'")
    assert sessions.run_action(db, action_id, gateway_for) == "done"  # already canceled: still done
    sub = fake_stripe.get(sam.subscription["id"])
    assert sub["status"] == "canceled" and sub["cancellation_details"]["feedback"] == "other"


def test_never_mind_keeps_the_subscription_as_saved_other(db, connected, live, sam, fake_stripe):
    session = _open(db, connected, sam)
    decided, action_id = sessions.answer(db, session.key, {"action": "keep"})
    assert (decided.outcome, decided.state, action_id, decided.offer_accepted) == (
        "saved_other",
        "finished",
        None,
        None,
    )
    assert decided.mrr_saved == 3000
    assert sessions.answer(db, session.key, {"action": "cancel"})[1] is None  # finished: nothing changes


def test_a_failed_stripe_call_leaves_it_pending_and_retries(
    db, connected, live, sam, fake_stripe, gateway_for
):
    session = _open(db, connected, sam)
    _post(db, session, action="reason", reason="too_expensive")
    _, action_id = _post(db, session, action="accept")
    fake_stripe.faults.server_error(count=1, path="/v1/coupons")
    assert sessions.run_action(db, action_id, gateway_for) == "retry"
    row = sessions.action_of(db, session.id)
    assert row["work_state"] == "pending" and row["last_error"] and row["due_at"] > clock.iso()
    assert sessions.get(db, connected.id, session.id).state == "pending_action"
    assert sessions.run_action(db, action_id, gateway_for) == "skipped"  # not due yet
    with time_machine.travel(clock.now() + timedelta(minutes=2), tick=False):
        assert sessions.run_action(db, action_id, gateway_for) == "done"
    assert sessions.get(db, connected.id, session.id).state == "finished"
    assert len(fake_stripe.get(sam.subscription["id"])["discounts"]) == 1


def test_cooldown_skips_offers_after_a_recent_save(db, connected, live, sam, gateway_for):
    first = _open(db, connected, sam)
    _post(db, first, action="reason", reason="too_expensive")
    _, action_id = _post(db, first, action="accept")
    sessions.run_action(db, action_id, gateway_for)
    second = _open(db, connected, sam)
    assert second.skip_offers == "cooldown"
    after, _ = _post(db, second, action="reason", reason="too_expensive")
    assert after.step == "confirm" and json.loads(after.offers_shown) == []
    policy = flows.offer_policy(db, connected.id)
    with time_machine.travel(clock.now() + timedelta(days=policy.cooldown_days + 1), tick=False):
        assert _open(db, connected, sam).skip_offers is None


def test_the_holdout_sees_no_offer(db, connected, live, fake_stripe):
    flow, version, _ = live
    flows.set_traffic(db, connected.id, flow.id, {version.id: 100}, holdout_percent=50)
    arms = []
    for n in range(40):
        who = subscriber(db, connected.id, fake_stripe, email=f"h{n}@example.com")
        session = _open(db, connected, who)
        after, _ = _post(db, session, action="reason", reason="too_expensive")
        arms.append(session.arm)
        assert (after.step == "confirm") == (session.arm == "holdout")
    assert 5 < arms.count("holdout") < 35


def test_abandoned_after_an_hour(db, connected, live, sam):
    session = _open(db, connected, sam)
    with time_machine.travel(clock.now() + timedelta(minutes=59), tick=False):
        assert sessions.close_abandoned(db) == 0
    with time_machine.travel(clock.now() + timedelta(minutes=61), tick=False):
        assert sessions.close_abandoned(db) == 1
    row = sessions.get(db, connected.id, session.id)
    assert (row.outcome, row.state) == ("abandoned", "finished")


def test_no_live_flow_still_lets_the_customer_cancel(db, connected, sam):
    session = _open(db, connected, sam)
    assert (session.step, session.arm, session.flow_id) == ("confirm", "none", None)


def test_a_customer_without_an_open_subscription_cannot_open_one(db, connected, fake_stripe):
    cus = fake_stripe.create_customer(email="nosub@example.com")
    mirror_objects(db, connected.id, fake_stripe, cus["id"])
    with pytest.raises(sessions.CannotOpen) as exc:
        sessions.open_session(db, connected, cus["id"], None, return_url=None, source="hosted")
    assert exc.value.reason == "no_subscription"


def test_traffic_splits_evenly_and_each_customer_keeps_an_arm():
    versions = [(11, 50), (12, 50)]
    arms = [runtime.choose_arm(1, f"cus_{n:05d}", 7, 0, versions)[0] for n in range(2000)]
    share = arms.count(11) / len(arms)
    assert 0.47 <= share <= 0.53
    for n in range(0, 2000, 97):
        assert runtime.choose_arm(1, f"cus_{n:05d}", 7, 0, versions)[0] == arms[n]
    # Changing the holdout does not move anyone between versions.
    moved = [runtime.choose_arm(1, f"cus_{n:05d}", 7, 20, versions)[0] for n in range(2000)]
    assert moved == arms
    holdouts = sum(runtime.choose_arm(1, f"cus_{n:05d}", 7, 20, versions)[1] for n in range(2000))
    assert 0.17 <= holdouts / 2000 <= 0.23


def test_the_same_customer_always_lands_on_the_same_arm_through_sessions(db, connected, live, fake_stripe):
    flow, v1, _ = live
    v2 = flows.publish(db, connected.id, flow.id).version
    flows.set_traffic(db, connected.id, flow.id, {v1.id: 50, v2.id: 50}, holdout_percent=0)
    people = [subscriber(db, connected.id, fake_stripe, email=f"p{n}@example.com") for n in range(12)]
    first = [_open(db, connected, p).arm for p in people]
    assert [_open(db, connected, p).arm for p in people] == first
    assert set(first) == {"v1", "v2"}
