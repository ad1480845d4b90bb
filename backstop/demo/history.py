"""The rest of Demo Co's year: customers walking its cancel flows, and its webhook endpoint.

Like the recovery replay in ``seed``, nothing here is written around Backstop's rules: each cancel
session is opened, answered and carried out in the stand-in by ``backstop.cancel_flows``' own
functions at the moment it happened, and each webhook delivery is made by
``backstop.webhooks_out.delivery`` at the time it was due, to the demo's recording receiver.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlite_utils import Database

from backstop import clock
from backstop.db import write_transaction
from backstop.demo.receiver import DEMO_ENDPOINT_URL, DemoReceiver
from backstop.demo.seed import clock_at
from backstop.demo.stand_in import DemoStripe, typed
from backstop.lib.crypto import SecretBox
from backstop.settings import Settings

# How the reasons spread (codes the templates use; a flow offers only its own).
REASON_WEIGHTS = {"too_expensive": 34, "not_using": 27, "missing_features": 13, "switching": 12,
                  "bugs": 6, "other": 8}  # fmt: skip
FEEDBACK = {
    "too_expensive": ("We're a two-person shop and every subscription is under review this quarter.",
                      "Great product, but the Team plan is more than we can justify right now.",
                      "Budget cuts. Would come back at a lower tier.",
                      "Our client paused their retainer, so we're trimming tools until it's back.",
                      "Found a cheaper option that does the 80% we use.",
                      "Paying in euros made it creep up with the exchange rate."),
    "not_using": ("Our project wrapped up; we'll be back for the next one.",
                  "I only needed it for the launch, honestly.",
                  "Haven't logged in for weeks, seemed wasteful to keep paying.",
                  "Seasonal business: nothing happens until spring.",
                  "The person who used it most went on parental leave."),
    "missing_features": ("No SSO, and our security review requires it.",
                         "We needed a Slack integration for alerts.",
                         "Exports to our accounting tool would have kept us.",
                         "Multi-currency reports, please."),
    "switching": ("Moving everything into the suite our company already pays for.",
                  "A competitor offered a bundle with our CRM.",
                  "Our new CTO standardised on another tool."),
    "bugs": ("The dashboard timed out on our larger account every morning.",
             "Sync broke twice last month.",
             "The mobile view kept logging me out."),
    "other": ("Closing the business, thanks for everything.",
              "Account was set up by someone who has since left.",
              "Merging two accounts into one."),
}  # fmt: skip


@dataclass
class Visit:
    """One customer reaching the cancel flow: a leaver means to go, a waverer is unsure."""

    at: datetime
    customer_id: str
    subscription_id: str
    leaving: bool


@dataclass
class Milestone:
    at: datetime
    name: str


@dataclass
class Plan:
    visits: list[Visit] = field(default_factory=list)
    direct_cancels: list[tuple[datetime, str]] = field(default_factory=list)  # (at, subscription id)


def cancel_sessions(
    db: Database, settings: Settings, workspace_id: int, admin_id: int, account: DemoStripe,
    plan: Plan, rng: random.Random, start: datetime, now: datetime,
) -> None:  # fmt: skip
    """Two flows over the year: "Pause Instead" first, then "SaaS Standard", whose second version
    is A/B tested against the first with a holdout shown no offers."""
    from backstop.cancel_flows import sessions
    from backstop.stripe_sync import connection, mirror

    box = SecretBox(settings.secret_key)
    gateways: dict[int, object] = {}

    def gateway_for(ws_id: int):
        if ws_id not in gateways:
            gateways[ws_id] = connection.gateway(db, box, settings, ws_id, max_attempts=1)
        return gateways[ws_id]

    milestones = [
        Milestone(start + timedelta(days=15), "pause_instead"),
        Milestone(start + timedelta(days=165), "saas_standard"),
        Milestone(start + timedelta(days=200), "ab_test"),
    ]
    first_flow_at = milestones[0].at
    said: dict[str, int] = {}
    visits = sorted(plan.visits, key=lambda v: v.at)
    for visit in visits:
        while milestones and milestones[0].at <= visit.at:
            _milestone(db, workspace_id, admin_id, milestones.pop(0))
        if visit.at < first_flow_at:  # no cancel flow yet: they canceled in Stripe's portal
            plan.direct_cancels.append((visit.at, visit.subscription_id))
            continue
        walked = _walk(db, settings, workspace_id, visit, rng, gateway_for, said)
        if not walked and visit.leaving:  # closed the page, then canceled another way
            plan.direct_cancels.append((visit.at + timedelta(hours=3), visit.subscription_id))
    for milestone in milestones:
        _milestone(db, workspace_id, admin_id, milestone)
    with clock_at(now):
        sessions.close_abandoned(db)
    for at, sub_id in plan.direct_cancels:
        sub = account.objects[sub_id]
        if sub["status"] != "canceled":
            sub.update(status="canceled", canceled_at=int(at.timestamp()), ended_at=int(at.timestamp()))
    account.advance(now.timestamp())
    with write_transaction(db):
        version = int(now.timestamp()) + 2
        for obj in account.of_kind("subscription"):
            mirror.apply_object(db, workspace_id, typed(obj), version)


def _milestone(db: Database, workspace_id: int, admin_id: int, milestone: Milestone) -> None:
    from backstop.cancel_flows import document, flows, templates

    with clock_at(milestone.at):
        if milestone.name == "pause_instead":
            templates.use_template(db, workspace_id, "Pause Instead", admin_id=admin_id)
        elif milestone.name == "saas_standard":
            used = templates.use_template(db, workspace_id, "SaaS Standard", admin_id=admin_id)
            flows.set_active(db, workspace_id, used.flow.id)
        else:  # a second version with a deeper, shorter discount, against the first, plus a holdout
            flow = flows.active_flow(db, workspace_id)
            doc = document.to_json(flow.draft)
            for node in doc["nodes"]:
                for variant in node.get("variants", ()):
                    offer = variant["offer"]
                    if offer["kind"] == "discount":
                        offer.update(percent_off=35, duration_months=2, headline="Stay for 35% less",
                                     accept_label="Stay at 35% off")  # fmt: skip
            flows.save_draft(db, workspace_id, flow.id, document.parse(doc))
            flows.publish(db, workspace_id, flow.id, admin_id=admin_id)
            ids = [v.id for v in flows.versions(db, workspace_id, flow.id)]
            flows.set_traffic(db, workspace_id, flow.id, dict.fromkeys(ids, 50), 25)


def _walk(db, settings, workspace_id, visit: Visit, rng: random.Random, gateway_for, said: dict) -> bool:
    """Walk the flow as this customer would; False when they closed the page (or couldn't open)."""
    from backstop.cancel_flows import sessions

    at = visit.at
    with clock_at(at):
        try:
            session = sessions.open_session(
                db,
                {"id": workspace_id},
                visit.customer_id,
                visit.subscription_id,
                return_url=None,
                source="hosted",
            )
        except sessions.CannotOpen:
            return False
    key = session.key
    if rng.random() < 0.08:
        return False  # opened and left: closed as abandoned an hour later
    flow = sessions.flow_of(db, session)  # the session keeps its version to the end
    for _ in range(8):
        at += timedelta(seconds=rng.uniform(8, 50))
        node = flow.node(session.step)
        if node is None:
            form = {"action": "cancel", "step": ""}
        elif node.type == "survey":
            codes = [r.code for r in node.reasons]
            code = rng.choices(codes, weights=[REASON_WEIGHTS.get(c, 5) for c in codes])[0]
            text = _feedback(said, code) if rng.random() < 0.55 else ""
            form = {"action": "reason", "step": node.id, "reason": code, "free_text": text}
        elif node.type == "offer":
            takes = rng.random() < (0.18 if visit.leaving else 0.62)
            form = {"action": "accept" if takes else "decline", "step": node.id}
        elif node.type == "confirm":
            stays = rng.random() < (0.04 if visit.leaving else 0.3)
            form = {"action": "keep" if stays else "cancel", "step": node.id}
        else:
            form = {"action": "next", "step": node.id}
        with clock_at(at):
            session, action_id = sessions.answer(db, key, form)
        if action_id is not None:
            with clock_at(at + timedelta(seconds=2)):
                sessions.run_action(db, action_id, gateway_for)
        if session.state != "open":
            return True
    return True


def _feedback(said: dict[str, int], code: str) -> str:
    """The next thing a customer with this reason wrote (each said once before any repeats)."""
    texts = FEEDBACK.get(code, FEEDBACK["other"])
    said[code] = said.get(code, -1) + 1
    return texts[said[code] % len(texts)]


def webhook_endpoint(db: Database, settings: Settings, workspace_id: int, at: datetime) -> None:
    """Demo Co's one endpoint, subscribed to every event, from the day the workspace was made."""
    from backstop.webhooks_out import endpoints
    from backstop.webhooks_out.events import EVENT_TYPES

    with clock_at(at):
        endpoints.create_endpoint(
            db, SecretBox(settings.secret_key), workspace_id, url=DEMO_ENDPOINT_URL,
            events=list(EVENT_TYPES), description="Demo Co's CRM sync (the demo's recording receiver)",
        )  # fmt: skip


OUTAGE = timedelta(hours=108)  # under the 5 days that disable an endpoint, over the 72 h of retries


def _outage_start(db: Database, start: datetime) -> datetime:
    """Just before the first busy day after the spring: deliveries queued in the outage's first
    36 hours are still failing when their 72 hours of retries run out."""
    created = [
        clock.parse(at)
        for (at,) in db.execute(
            "SELECT created_at FROM webhook_deliveries ORDER BY created_at, id"
        ).fetchall()
    ]
    spring = start + timedelta(days=120)
    for first, third in zip(created, created[2:], strict=False):
        if first >= spring and third - first < timedelta(hours=30):
            return first - timedelta(minutes=10)
    return spring


def deliver_webhooks(
    db: Database, settings: Settings, receiver: DemoReceiver, start: datetime, now: datetime
) -> None:
    """Make every delivery the year's events queued, each when it was due, with retries on the
    policy's schedule: most are answered 200, a few 500s are retried through, and a four-and-a-
    half-day outage leaves some failed for good."""
    from backstop.webhooks_out import delivery

    receiver.outages = [
        (outage.timestamp(), (outage + OUTAGE).timestamp()) for outage in [_outage_start(db, start)]
    ]
    receiver.error_rate = 0.06
    sender = delivery.Sender(SecretBox(settings.secret_key), rand=random.Random(5))  # noqa: S311
    try:
        while True:
            row = db.execute(
                "SELECT id, due_at FROM webhook_deliveries WHERE work_state = 'pending' AND due_at <= ? "
                "ORDER BY due_at, id LIMIT 1",
                [clock.iso(now)],
            ).fetchone()
            if row is None:
                break
            with clock_at(clock.parse(row[1])):
                delivery.deliver(db, settings, row[0], sender)
    finally:
        receiver.outages, receiver.error_rate = [], 0.0  # live, the receiver takes everything
