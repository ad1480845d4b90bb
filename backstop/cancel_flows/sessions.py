"""Cancel sessions: one customer walking one flow, from "Cancel" to an outcome applied in Stripe.

A session is opened from a redeemed embed token (or by the portal), gets a stable arm (a live
version, or the holdout), and is addressed by an opaque key in the URL: the hosted pages work in
an iframe on the founder's site, where cookies can't be relied on. Each form post carries a
token derived from the key, so a page can only post to its own session.

When the customer decides, the outcome is recorded and the Stripe change is written as a work
row (``cancel_actions``) in the same transaction; ``run_action`` carries it out with idempotency
keys made of the session id and the step, so a double click, a reload or a retried job changes
Stripe once. Until it is done the session is ``pending_action``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlite_utils import Database

from backstop import clock
from backstop.cancel_flows import document, runtime
from backstop.cancel_flows.runtime import Decision, Who
from backstop.db import all_rows, one, write_transaction
from backstop.lib import workrows
from backstop.lib.crypto import random_token, sha256_hex
from backstop.stripe_sync.customers import Customer, get_customer
from backstop.stripe_sync.prices import get_price

log = logging.getLogger("backstop.cancel_flows")

ABANDON_AFTER = timedelta(hours=1)
ACTIONS_TABLE = "cancel_actions"
OPEN_STATUSES = ("active", "trialing", "past_due", "unpaid")
SOURCES = ("hosted", "redirect", "embed", "portal")

# When a workspace has no live flow yet, customers can still cancel: one confirm step.
FALLBACK_FLOW = document.parse(
    {
        "format": document.FORMAT,
        "name": "Cancel",
        "start": "confirm",
        "nodes": [
            {
                "id": "confirm",
                "type": "confirm",
                "title": "Cancel your subscription?",
                "body": "",
            }
        ],
    }
)


class CannotOpen(Exception):
    """Why no session could be opened, in one sentence for the founder."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class SessionRecord:
    row: dict
    key: str | None = None  # only known right after opening

    def __getattr__(self, name: str):
        try:
            return self.row[name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def walk(self) -> dict:
        return {
            "step": self.row["step"],
            "path": json.loads(self.row["path"]),
            "variants": json.loads(self.row["variants"]),
            "offers_shown": json.loads(self.row["offers_shown"]),
            "reason_code": self.row["reason_code"],
            "reason_label": self.row["reason_label"],
            "free_text": self.row["free_text"],
            "skip_offers": self.row["skip_offers"],
        }

    @property
    def accepted(self) -> dict | None:
        return json.loads(self.row["offer_accepted"]) if self.row["offer_accepted"] else None

    @property
    def who(self) -> Who:
        return Who(self.row["workspace_id"], self.row["customer_id"], self.row["flow_id"] or 0)


def hosted_path(key: str) -> str:
    return f"/cancel/s/{key}"


def form_token(secret_key: str, key: str) -> str:
    """The per-session token every form on the session's pages carries (no cookies needed)."""
    return hmac.new(secret_key.encode(), f"cancel-form:{key}".encode(), hashlib.sha256).hexdigest()[:40]


def check_form_token(secret_key: str, key: str, supplied: str | None) -> bool:
    return hmac.compare_digest(form_token(secret_key, key), (supplied or "")[:100])


# --- opening ------------------------------------------------------------------------------------


def _workspace_id(workspace) -> int:
    return workspace["id"] if isinstance(workspace, dict) else workspace.id


def pick_subscription(customer: Customer, subscription_id: str | None) -> str | None:
    """The subscription the session is about: the token's ``sid``, else the customer's one open
    subscription (the one that says most about them when there are several)."""
    if subscription_id:
        return subscription_id if any(s.id == subscription_id for s in customer.subscriptions) else None
    for sub in customer.subscriptions:
        if sub.status in OPEN_STATUSES:
            return sub.id
    return None


def _flows():
    from backstop.cancel_flows import flows

    return flows


def _in_cooldown(db: Database, workspace_id: int, customer_id: str) -> bool:
    days = _flows().offer_policy(db, workspace_id).cooldown_days
    if not days:
        return False
    since = clock.iso(clock.now() - timedelta(days=days))
    return bool(
        one(
            db,
            "SELECT 1 AS x FROM cancel_sessions WHERE workspace_id = ? AND customer_id = ? "
            "AND offer_accepted IS NOT NULL AND outcome LIKE 'saved_%' AND decided_at >= ? LIMIT 1",
            [workspace_id, customer_id, since],
        )
    )


def assign(db: Database, workspace_id: int, customer_id: str) -> tuple[object | None, object | None, bool]:
    """(flow record, version record, in holdout) for this customer; (None, None, False) when the
    workspace has no live flow."""
    flows = _flows()
    flow = flows.active_flow(db, workspace_id)
    if flow is None:
        return None, None, False
    versions = flows.live_versions(db, workspace_id, flow.id)
    if not versions:
        return flow, None, False
    version_id, holdout = runtime.choose_arm(
        workspace_id,
        customer_id,
        flow.id,
        flow.holdout_percent,
        [(v.id, v.traffic_percent) for v in versions],
    )
    version = next(v for v in versions if v.id == version_id)
    return flow, version, holdout


def open_session(
    db: Database,
    workspace,
    customer_id: str,
    subscription_id: str | None,
    *,
    return_url: str | None,
    source: str,
) -> SessionRecord:
    """Open a session for this customer (raises CannotOpen). The key is on the returned record
    and nowhere else: only its hash is stored."""
    workspace_id = _workspace_id(workspace)
    customer = get_customer(db, workspace_id, customer_id)
    if customer is None or customer.deleted:
        raise CannotOpen("unknown_customer", "This customer is not in the workspace's Stripe data.")
    sub_id = pick_subscription(customer, subscription_id)
    if sub_id is None:
        raise CannotOpen("no_subscription", "This customer has no open subscription to cancel.")
    sub = next(s for s in customer.subscriptions if s.id == sub_id)
    flow_rec, version, holdout = assign(db, workspace_id, customer_id)
    flow = version.flow if version is not None else FALLBACK_FLOW
    skip = "holdout" if holdout else ("cooldown" if _in_cooldown(db, workspace_id, customer_id) else None)
    flow_id = flow_rec.id if flow_rec is not None else None
    walk = runtime.new_state(flow, Who(workspace_id, customer_id, flow_id or 0), skip)
    arm = "holdout" if holdout else (f"v{version.version}" if version is not None else "none")
    key = random_token(24)
    with write_transaction(db):
        cur = db.execute(
            "INSERT INTO cancel_sessions (workspace_id, key_hash, source, customer_id, customer_email, "
            "customer_name, subscription_id, flow_id, version_id, version, arm, skip_offers, step, path, "
            "variants, offers_shown, currency, mrr_at_stake, return_url, opened_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                workspace_id,
                sha256_hex(key),
                source,
                customer_id,
                customer.email,
                customer.name,
                sub_id,
                flow_id,
                version.id if version is not None else None,
                version.version if version is not None else None,
                arm,
                skip,
                walk["step"],
                json.dumps(walk["path"]),
                json.dumps(walk["variants"]),
                json.dumps(walk["offers_shown"]),
                sub.currency,
                sub.mrr,
                return_url,
                clock.iso(),
            ],
        )
        row = one(db, "SELECT * FROM cancel_sessions WHERE id = ?", [cur.lastrowid])
    return SessionRecord(row, key)


# --- reading ------------------------------------------------------------------------------------


def by_key(db: Database, key: str) -> SessionRecord | None:
    if not key or len(key) > 100:
        return None
    row = one(db, "SELECT * FROM cancel_sessions WHERE key_hash = ?", [sha256_hex(key)])
    return SessionRecord(row) if row else None


def get(db: Database, workspace_id: int, session_id: int) -> SessionRecord | None:
    row = one(
        db, "SELECT * FROM cancel_sessions WHERE workspace_id = ? AND id = ?", [workspace_id, session_id]
    )
    return SessionRecord(row) if row else None


def flow_of(db: Database, session: SessionRecord) -> document.Flow:
    if session.version_id is None:
        return FALLBACK_FLOW
    version = _flows().get_version(db, session.workspace_id, session.version_id)
    return version.flow if version is not None else FALLBACK_FLOW


def action_of(db: Database, session_id: int) -> dict | None:
    return one(db, "SELECT * FROM cancel_actions WHERE session_id = ?", [session_id])


# --- answering ----------------------------------------------------------------------------------


def mrr_saved(db: Database, session: SessionRecord, decision: Decision) -> int:
    """What the save keeps per month, in the session's currency: the subscription's MRR, less a
    discount while it lasts, or the new price's MRR for a downgrade or an annual switch."""
    if not decision.outcome.startswith("saved_"):
        return 0
    at_stake = session.mrr_at_stake or 0
    offer = decision.offer or {}
    kind = offer.get("kind")
    if kind == "discount":
        if offer.get("percent_off"):
            return at_stake * (100 - int(offer["percent_off"])) // 100
        if (
            offer.get("amount_off")
            and (offer.get("currency") or "").lower() == (session.currency or "").lower()
        ):
            return max(0, at_stake - int(offer["amount_off"]))
        return at_stake
    if kind in ("downgrade", "annual_upsell"):
        price = get_price(db, session.workspace_id, offer.get("price_id"))
        if price is not None and (price.currency or "") == (session.currency or ""):
            return price.monthly_amount
        return at_stake
    return at_stake


def answer(db: Database, key: str, form: dict) -> tuple[SessionRecord | None, int | None]:
    """Apply one form post to the session; returns the session and the id of a Stripe action to
    run now (None when there is nothing new to run)."""
    with write_transaction(db):
        session = by_key(db, key)
        if session is None or session.state != "open":
            return session, None
        flow = flow_of(db, session)
        walk, decision = runtime.step(flow, session.who, session.walk, form)
        db.execute(
            "UPDATE cancel_sessions SET step = ?, path = ?, variants = ?, offers_shown = ?, reason_code = ?, "
            "reason_label = ?, free_text = ? WHERE id = ?",
            [
                walk["step"],
                json.dumps(walk["path"]),
                json.dumps(walk["variants"]),
                json.dumps(walk["offers_shown"]),
                walk["reason_code"],
                walk["reason_label"],
                walk["free_text"],
                session.id,
            ],
        )
        if decision is None:
            return by_key(db, key), None
        session = by_key(db, key)
        action = runtime.plan_action(
            flow,
            decision,
            subscription_id=session.subscription_id,
            reason_code=session.reason_code,
            free_text=session.free_text,
        )
        if action is not None and action.kind == "trial_end":
            action = _fix_trial_end(db, session, action)
        now = clock.iso()
        db.execute(
            "UPDATE cancel_sessions SET outcome = ?, offer_accepted = ?, mrr_saved = ?, decided_at = ?, "
            "state = ?, finished_at = ? WHERE id = ?",
            [
                decision.outcome,
                json.dumps(decision.offer) if decision.offer else None,
                mrr_saved(db, session, decision),
                now,
                "pending_action" if action else "finished",
                None if action else now,
                session.id,
            ],
        )
        action_id = None
        if action is not None:
            cur = db.execute(
                "INSERT INTO cancel_actions (workspace_id, session_id, kind, params, created_at, due_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [session.workspace_id, session.id, action.kind, json.dumps(action.params), now, now],
            )
            action_id = cur.lastrowid
        else:
            _emit_outcome_event(db, by_key(db, key))
        return by_key(db, key), action_id


def _fix_trial_end(db: Database, session: SessionRecord, action: runtime.Action) -> runtime.Action:
    """The new trial end, fixed at the moment of the choice: N days after the current trial end
    (or now, when the trial is over), so a retried request is the same request."""
    customer = get_customer(db, session.workspace_id, session.customer_id)
    sub = (
        next((s for s in customer.subscriptions if s.id == session.subscription_id), None)
        if customer
        else None
    )
    start = max(int(sub.trial_end or 0) if sub else 0, int(clock.now_ts()))
    return runtime.Action(
        action.kind, {**action.params, "trial_end": start + int(action.params["days"]) * 86_400}
    )


# --- carrying out the Stripe change -------------------------------------------------------------


class _Permanent(Exception):
    pass


def _idem(action: dict, step: str) -> str:
    return f"backstop-cancel-{action['workspace_id']}-{action['session_id']}-{step}"


def _coupon_params(session_id: int, p: dict) -> dict:
    months = p.get("duration_months")
    params: dict = {"max_redemptions": 1, "metadata": {"backstop_cancel_session": str(session_id)}}
    if p.get("amount_off"):
        params.update(amount_off=int(p["amount_off"]), currency=(p.get("currency") or "").lower())
    else:
        params["percent_off"] = p.get("percent_off")
    if months == "forever":
        params["duration"] = "forever"
    elif months == 1 and not p.get("gift"):
        params["duration"] = "once"
    else:
        params.update(duration="repeating", duration_in_months=int(months or 1))
    label = "Free months" if p.get("gift") else "Save offer"
    params["name"] = f"{label} (cancel session {session_id})"[:40]
    return params


def _discount_coupon(d) -> str | None:
    if isinstance(d, dict):
        source = d.get("source") or {}
        coupon = source.get("coupon") or d.get("coupon")
        return coupon.get("id") if isinstance(coupon, dict) else coupon
    return None


def _apply(gw, action: dict) -> dict:
    """Make the Stripe change; returns what to remember. Safe to repeat: every POST carries an
    idempotency key, and each step first looks at whether it was already made."""
    from backstop.connectors.stripe import StripeInvalidRequest

    p = json.loads(action["params"])
    path = f"/v1/subscriptions/{p['subscription']}"
    kind = action["kind"]
    if kind == "discount":
        coupon = gw.post(
            "/v1/coupons", _coupon_params(action["session_id"], p), idempotency_key=_idem(action, "coupon")
        )
        sub = gw.get(path, {"expand": ["discounts"]})
        existing = sub.get("discounts") or []
        if any(_discount_coupon(d) == coupon["id"] for d in existing):
            return {"coupon": coupon["id"]}
        keep = [{"discount": d["id"] if isinstance(d, dict) else d} for d in existing]
        gw.post(
            path, {"discounts": [*keep, {"coupon": coupon["id"]}]}, idempotency_key=_idem(action, "apply")
        )
        return {"coupon": coupon["id"]}
    if kind == "pause":
        # From the moment of the choice, so a retry sends the very same request.
        resumes = runtime.add_months(clock.parse(action["created_at"]), int(p["months"]))
        gw.post(
            path,
            {"pause_collection": {"behavior": "void", "resumes_at": int(resumes.timestamp())}},
            idempotency_key=_idem(action, "pause"),
        )
        return {"resumes_at": int(resumes.timestamp())}
    if kind == "price_switch":
        sub = gw.get(path)
        items = (sub.get("items") or {}).get("data") or []
        if not items:
            raise _Permanent("The subscription has no item to switch.")
        if (items[0].get("price") or {}).get("id") == p["price"]:
            return {"price": p["price"]}
        gw.post(
            path,
            {"items": [{"id": items[0]["id"], "price": p["price"]}], "proration_behavior": p["proration"]},
            idempotency_key=_idem(action, "switch"),
        )
        return {"price": p["price"]}
    if kind == "trial_end":
        gw.post(
            path,
            {"trial_end": p["trial_end"], "proration_behavior": "none"},
            idempotency_key=_idem(action, "trial"),
        )
        return {"trial_end": p["trial_end"]}
    if kind == "cancel":
        details = {"feedback": p["feedback"], **({"comment": p["comment"]} if p.get("comment") else {})}
        if p["at"] == "immediately":
            sub = gw.get(path)
            if sub.get("status") == "canceled":
                return {"status": "canceled"}
            try:
                gw.request(
                    "delete", path, {"cancellation_details": details}, idempotency_key=_idem(action, "cancel")
                )
            except StripeInvalidRequest:
                if gw.get(path).get("status") != "canceled":
                    raise
            return {"status": "canceled"}
        sub = gw.post(
            path,
            {"cancel_at_period_end": True, "cancellation_details": details},
            idempotency_key=_idem(action, "cancel"),
        )
        return {"cancel_at": sub.get("cancel_at")}
    raise _Permanent(f"Unknown action {kind!r}.")


def run_action(db: Database, action_id: int, gateway_for: Callable[[int], object]) -> str:
    """Claim the action, make the Stripe change, and finish the session. Returns done, retry,
    failed or skipped (someone else has it, or it is already done)."""
    from backstop.connectors.stripe import StripeFailure

    with write_transaction(db):
        if not workrows.claim(db, ACTIONS_TABLE, action_id):
            return "skipped"
        action = one(db, "SELECT * FROM cancel_actions WHERE id = ?", [action_id])
    try:
        gw = gateway_for(action["workspace_id"])
        result = _apply(gw, action)
    except Exception as exc:  # recorded on the row and retried
        message = getattr(exc, "message", None) or str(exc) or exc.__class__.__name__
        permanent = isinstance(exc, _Permanent)
        with write_transaction(db):
            if permanent:
                workrows.fail(db, ACTIONS_TABLE, action_id, message)
            else:
                workrows.retry_later(
                    db, ACTIONS_TABLE, action_id, workrows.backoff(action["attempts"] + 1), message
                )
        if not isinstance(exc, StripeFailure | _Permanent):
            log.exception("cancel action %s failed", action_id)
        return "failed" if permanent else "retry"
    with write_transaction(db):
        workrows.complete(db, ACTIONS_TABLE, action_id)
        now = clock.iso()
        db.execute(
            "UPDATE cancel_actions SET result = ?, done_at = ? WHERE id = ?",
            [json.dumps(result), now, action_id],
        )
        cur = db.execute(
            "UPDATE cancel_sessions SET state = 'finished', finished_at = ? WHERE id = ? AND state = 'pending_action'",
            [now, action["session_id"]],
        )
        if cur.rowcount:
            row = one(db, "SELECT * FROM cancel_sessions WHERE id = ?", [action["session_id"]])
            _emit_outcome_event(db, SessionRecord(row))
    return "done"


def close_abandoned(db: Database) -> int:
    """Sessions opened more than an hour ago and never decided end as ``abandoned``."""
    cutoff = clock.iso(clock.now() - ABANDON_AFTER)
    now = clock.iso()
    with write_transaction(db):
        cur = db.execute(
            "UPDATE cancel_sessions SET state = 'finished', outcome = 'abandoned', finished_at = ? "
            "WHERE state = 'open' AND opened_at <= ?",
            [now, cutoff],
        )
    return cur.rowcount


# --- outbound webhook ----------------------------------------------------------------------------


def outcome_event(session: SessionRecord) -> tuple[str, dict] | None:
    """The ``cancel.saved`` / ``cancel.lost`` event a finished session makes, or None."""
    outcome = session.outcome
    if outcome not in runtime.SAVED and outcome != "canceled":
        return None
    offer = session.accepted
    money = {"currency": session.currency}
    return (
        "cancel.saved" if outcome in runtime.SAVED else "cancel.lost",
        {
            "session_id": session.id,
            "customer_id": session.customer_id,
            "subscription_id": session.subscription_id,
            "outcome": outcome,
            "reason_code": session.reason_code,
            "offer": {k: v for k, v in offer.items() if v is not None} if offer else None,
            "mrr_at_stake": {"amount": session.mrr_at_stake, **money},
            "mrr_saved": {"amount": session.mrr_saved, **money},
            "flow_version": session.version,
        },
    )


def _emit_outcome_event(db: Database, session: SessionRecord) -> str | None:
    """Record the outbound webhook event inside the caller's write transaction."""
    event = outcome_event(session)
    if event is None:
        return None
    try:
        from backstop.webhooks_out.events import record_event
    except ImportError:  # outbound webhooks are not part of this build
        return None
    return record_event(db, session.workspace_id, event[0], event[1])


def list_for_customer(db: Database, workspace_id: int, customer_id: str) -> list[dict]:
    return all_rows(
        db,
        "SELECT * FROM cancel_sessions WHERE workspace_id = ? AND customer_id = ? ORDER BY id DESC",
        [workspace_id, customer_id],
    )
