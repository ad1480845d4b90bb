"""The numbers the Overview shows and ``GET /api/v1/stats`` returns: one function for both.

Amounts are integer minor units keyed by currency.
"""

from __future__ import annotations

from datetime import timedelta

from sqlite_utils import Database

from backstop import clock
from backstop.cancel_flows.analytics import saved_and_lost
from backstop.stripe_sync.customers import active_mrr, subscription_mrr

WINDOW_DAYS = 30

DEFINITIONS = {
    "recovered_30d": "Sum of the amounts of recovery campaigns that closed as recovered in the last 30 days.",
    "recovery_rate_30d": (
        "Campaigns recovered ÷ campaigns closed (recovered, lost or abandoned) in the last 30 days. "
        "Campaigns still in flight don't count until they close, and payments Stripe collected on "
        "the first try never open a campaign, so they aren't in it either."
    ),
    "saved_mrr_30d": (
        "Monthly recurring revenue kept by cancel-flow saves applied in the last 30 days (after any "
        "discount; a downgrade counts its new price)."
    ),
    "net_mrr_30d": (
        "Saved MRR minus the MRR of subscriptions canceled through the cancel flow and of recovery "
        "campaigns lost in the last 30 days."
    ),
    "active_mrr": (
        "Monthly recurring revenue of subscriptions that are active or past_due now (a failed renewal "
        "still counts while it is being recovered), per currency; yearly and weekly prices are "
        "converted to a month. Trials, paused collection and canceled or unpaid subscriptions don't "
        "count; one set to cancel at the period's end counts until it ends."
    ),
}


def _campaign_numbers(db: Database, workspace_id: int, since: str) -> tuple[dict, int, int]:
    recovered: dict[str, int] = {}
    for row in db.execute(
        "SELECT currency, SUM(amount_due) FROM campaigns WHERE workspace_id = ? "
        "AND status = 'recovered' AND closed_at >= ? GROUP BY currency",
        [workspace_id, since],
    ):
        recovered[row[0]] = row[1]
    counts = db.execute(
        "SELECT SUM(status = 'recovered'), COUNT(*) FROM campaigns WHERE workspace_id = ? "
        "AND status != 'in_flight' AND closed_at >= ?",
        [workspace_id, since],
    ).fetchone()
    return recovered, counts[0] or 0, counts[1] or 0


TREND_WEEKS = 12


def recovered_weekly(db: Database, workspace_id: int, weeks: int = TREND_WEEKS) -> dict:
    """Recovered revenue per week (Monday to Sunday, UTC) for the last ``weeks`` weeks, this one
    included: {"weeks": [{"start", "amounts", "campaigns"}...], "currency", "max"}. The chart draws
    ``currency`` (the one with the most recovered); the table beside it lists every currency."""
    today = clock.now().date()
    first = today - timedelta(days=today.weekday() + 7 * (weeks - 1))
    buckets = [{"start": first + timedelta(days=7 * i), "amounts": {}, "campaigns": 0} for i in range(weeks)]
    for closed_at, currency, amount in db.execute(
        "SELECT closed_at, currency, amount_due FROM campaigns WHERE workspace_id = ? "
        "AND status = 'recovered' AND closed_at >= ?",
        [workspace_id, first.isoformat()],
    ):
        index = (clock.parse(closed_at).date() - first).days // 7
        if 0 <= index < weeks:
            bucket = buckets[index]
            bucket["amounts"][currency] = bucket["amounts"].get(currency, 0) + (amount or 0)
            bucket["campaigns"] += 1
    totals: dict[str, int] = {}
    for bucket in buckets:
        for currency, amount in bucket["amounts"].items():
            totals[currency] = totals.get(currency, 0) + amount
    currency = max(totals, key=lambda c: totals[c]) if totals else None
    top = max((b["amounts"].get(currency, 0) for b in buckets), default=0) if currency else 0
    return {"weeks": buckets, "currency": currency, "max": top, "totals": totals}


def _lost_campaign_mrr(db: Database, workspace_id: int, since: str) -> dict[str, int]:
    """The MRR of subscriptions whose recovery campaign was lost in the window (the invoice
    amount when the subscription isn't mirrored)."""
    rows = db.execute(
        "SELECT subscription_id, currency, amount_due FROM campaigns WHERE workspace_id = ? "
        "AND status = 'lost' AND closed_at >= ?",
        [workspace_id, since],
    ).fetchall()
    mrr = subscription_mrr(db, workspace_id, [r[0] for r in rows if r[0]])
    out: dict[str, int] = {}
    for sub_id, currency, amount_due in rows:
        amount, cur = mrr.get(sub_id, (amount_due or 0, currency))
        if cur:
            out[cur] = out.get(cur, 0) + amount
    return out


def workspace_stats(db: Database, workspace_id: int) -> dict:
    since = clock.iso(clock.now() - timedelta(days=WINDOW_DAYS))
    recovered, recovered_count, closed_count = _campaign_numbers(db, workspace_id, since)
    mrr, mrr_subscriptions = active_mrr(db, workspace_id)
    saved, saves, lost, cancels = saved_and_lost(db, workspace_id, since)
    net = dict(saved)
    for losses in (lost, _lost_campaign_mrr(db, workspace_id, since)):
        for currency, amount in losses.items():
            net[currency] = net.get(currency, 0) - amount
    return {
        "window_days": WINDOW_DAYS,
        "recovered_30d": {"amounts": recovered, "campaigns": recovered_count},
        "recovery_rate_30d": {
            "rate": round(recovered_count / closed_count, 4) if closed_count else None,
            "recovered": recovered_count,
            "closed": closed_count,
        },
        "saved_mrr_30d": {"amounts": saved, "sessions": saves},
        "net_mrr_30d": {"amounts": net, "canceled_sessions": cancels},
        "active_mrr": {"amounts": mrr, "subscriptions": mrr_subscriptions},
    }
