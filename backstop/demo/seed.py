"""Twelve months of a small SaaS, made once for the demo: the Stripe side in the stand-in and the
mirror, then every failed renewal replayed through Backstop's own recovery code, step by step at
the time each step was due, so campaigns, timelines, emails and numbers are what Backstop really
does with such an account.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlite_utils import Database

from backstop import clock
from backstop.db import write_transaction
from backstop.demo.receiver import DemoReceiver
from backstop.demo.stand_in import DEMO_KEY, DEMO_PUBLISHABLE_KEY, DemoStripe, typed
from backstop.lib.crypto import SecretBox
from backstop.settings import Settings
from backstop.workspaces.errors import ValidationError

WORKSPACE_NAME = "Demo Co"
WORKSPACE_SLUG = "demo-co"
ADMIN_EMAIL = "founder@demo.invalid"
CUSTOMERS = 200
MONTHS = 12

# (product name, {currency: monthly amount in minor units})
PLANS = (
    ("Starter", {"usd": 1900, "eur": 1800}),
    ("Pro", {"usd": 4900, "eur": 4500}),
    ("Team", {"usd": 14900, "eur": 13900}),
)
PLAN_WEIGHTS = (5, 4, 1)

# A realistic decline mix for failed renewals (Stripe's soft declines dominate).
DECLINES = (
    ("insufficient_funds", 34),
    ("generic_decline", 18),
    ("expired_card", 14),
    ("do_not_honor", 9),
    ("card_velocity_exceeded", 6),
    ("authentication_required", 5),
    ("incorrect_cvc", 5),
    ("processing_error", 5),
    ("lost_card", 4),
)

FIRST_NAMES = ("Ada", "Ben", "Chloé", "Dario", "Elif", "Farah", "Gus", "Hana", "Ivan", "Jonas",
               "Kemi", "Lena", "Mateo", "Nora", "Oskar", "Priya", "Quinn", "Rosa", "Sami", "Tariq",
               "Uma", "Viktor", "Wen", "Ximena", "Yusuf", "Zoe")  # fmt: skip
LAST_NAMES = ("Adeyemi", "Becker", "Castro", "Dubois", "Eriksen", "Fischer", "García", "Hughes",
              "Iversen", "Jensen", "Kowalski", "Larsen", "Moreau", "Novak", "Okafor", "Petrov",
              "Quispe", "Rossi", "Silva", "Tanaka", "Ueda", "Varga", "Weber", "Yilmaz", "Zhang")  # fmt: skip
BRANDS = (("visa", 6), ("mastercard", 3), ("amex", 1))


@dataclass
class Demo:
    workspace_id: int
    admin_id: int
    account: DemoStripe


@contextmanager
def clock_at(moment: datetime) -> Iterator[None]:
    """Run Backstop's code as if it were ``moment``: the demo's history is replayed, not faked."""
    original = clock.now
    clock.now = lambda: moment  # type: ignore[assignment]
    try:
        yield
    finally:
        clock.now = original  # type: ignore[assignment]


def _weighted(rng: random.Random, pairs) -> str:
    return rng.choices([p for p, _ in pairs], weights=[w for _, w in pairs])[0]


def build(
    db: Database,
    box: SecretBox,
    settings: Settings,
    account: DemoStripe,
    receiver: DemoReceiver,
    seed: int = 7,
) -> Demo:
    """Create Demo Co, its admin, its Stripe connection and twelve months of history. The caller
    has installed ``account`` and ``receiver`` as the Stripe and outbound HTTP transports."""
    from backstop.demo import history
    from backstop.workspaces.admins import create_admin
    from backstop.workspaces.workspaces import create_workspace

    rng = random.Random(seed)  # noqa: S311 - made-up sample data, not security
    now = clock.now()
    start = now - timedelta(days=365)
    with clock_at(start - timedelta(days=1)):
        admin = create_admin(db, ADMIN_EMAIL, "demo-" + settings.secret_key[:24])
        workspace, _ = create_workspace(db, box, WORKSPACE_NAME, admin, WORKSPACE_SLUG)
    history.webhook_endpoint(db, settings, workspace.id, start - timedelta(hours=20))
    _connect(db, box, workspace.id)
    plan = history.Plan()
    failures = _stripe_side(db, workspace.id, account, rng, start, now, plan.visits)
    _replay_recovery(db, settings, workspace.id, account, failures, rng, now)
    history.cancel_sessions(db, settings, workspace.id, admin.id, account, plan, rng, start, now)
    history.deliver_webhooks(db, settings, receiver, start, now)
    return Demo(workspace.id, admin.id, account)


def _connect(db: Database, box: SecretBox, workspace_id: int) -> None:
    from backstop.stripe_sync import connection

    with write_transaction(db):
        connection.save_key_connection(
            db, box, workspace_id, DEMO_KEY, False, webhook_secret=None, polling=False
        )
        connection.set_publishable_key(db, workspace_id, DEMO_PUBLISHABLE_KEY)
        connection.record_event_seen(db, workspace_id)


def _stripe_side(db, workspace_id, account, rng, start, now, visits) -> list[dict]:
    """Products, prices, customers, cards, subscriptions and their invoices: in the stand-in and
    in the mirror. Returns the failed renewals to replay, oldest first; ``visits`` gets the
    customers who will reach the cancel flow."""
    from backstop.demo.history import Visit
    from backstop.stripe_sync import mirror

    prices = []
    for name, amounts in PLANS:
        product = account.put({"id": f"prod_demo{name}", "object": "product", "name": name, "active": True,
                               "created": int(start.timestamp())})  # fmt: skip
        for currency, amount in amounts.items():
            prices.append(account.put({
                "id": f"price_demo{name}{currency.upper()}", "object": "price", "product": product["id"],
                "currency": currency, "unit_amount": amount, "nickname": None, "active": True,
                "recurring": {"interval": "month", "interval_count": 1}, "created": int(start.timestamp()),
            }))  # fmt: skip
    failures: list[dict] = []
    month = timedelta(days=30)
    version = int(now.timestamp())
    with write_transaction(db):
        for obj in account.of_kind("product") + account.of_kind("price"):
            mirror.apply_object(db, workspace_id, typed(obj), version)
        for n in range(CUSTOMERS):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            created = start + timedelta(seconds=rng.uniform(0, (now - start).total_seconds() - 86400 * 3))
            currency = "eur" if rng.random() < 0.28 else "usd"
            plan = rng.choices(range(len(PLANS)), weights=PLAN_WEIGHTS)[0]
            price = next(
                p
                for p in prices
                if p["product"] == f"prod_demo{PLANS[plan][0]}" and p["currency"] == currency
            )
            customer_id, pm_id, sub_id = f"cus_demo{n:04d}", f"pm_demo{n:04d}", f"sub_demo{n:04d}"
            brand = _weighted(rng, BRANDS)
            account.put({"id": pm_id, "object": "payment_method", "customer": customer_id, "type": "card",
                         "created": int(created.timestamp()),
                         "card": {"brand": brand, "last4": f"{rng.randint(0, 9999):04d}",
                                  "exp_month": rng.randint(1, 12), "exp_year": now.year + rng.randint(0, 4)}})  # fmt: skip
            email = f"{first}.{last}{n}".lower().replace("é", "e").replace("í", "i") + "@example.com"
            account.put({"id": customer_id, "object": "customer", "email": email, "name": f"{first} {last}",
                         "currency": currency, "created": int(created.timestamp()), "delinquent": False,
                         "metadata": {"backstop_tags": "vip"} if rng.random() < 0.08 else {},
                         "invoice_settings": {"default_payment_method": pm_id}})  # fmt: skip
            # Some leave along the way; the rest renew every month until now.
            churn_at = created + timedelta(days=rng.uniform(40, 330)) if rng.random() < 0.18 else None
            if churn_at and churn_at >= now - timedelta(days=2):
                churn_at = None
            periods, period_start = [], created
            while period_start < now and (churn_at is None or period_start < churn_at):
                periods.append(period_start)
                period_start += month
            sub = {"id": sub_id, "object": "subscription", "customer": customer_id, "currency": currency,
                   "status": "active", "created": int(created.timestamp()), "cancel_at_period_end": False,
                   "canceled_at": None, "ended_at": None, "trial_end": None, "default_payment_method": None,
                   "collection_method": "charge_automatically", "pause_collection": None,
                   "items": {"object": "list", "data": [{
                       "id": f"si_demo{n:04d}", "object": "subscription_item", "price": price, "quantity": 1,
                       "current_period_start": int(periods[-1].timestamp()),
                       "current_period_end": int((periods[-1] + month).timestamp())}]}}  # fmt: skip
            if churn_at:
                # Most who leave go through the cancel flow (replayed later); the rest left before
                # there was one, or through a door it doesn't cover.
                visit_at = churn_at - timedelta(minutes=rng.uniform(1, 120))
                visits.append(Visit(visit_at, customer_id, sub_id, leaving=True))
            elif rng.random() < 0.3 and (now - created).days > 12:
                # Others open the flow unsure, and often stay for an offer.
                when = created + timedelta(
                    seconds=rng.uniform(86400 * 5, (now - created).total_seconds() - 86400 * 2)
                )
                visits.append(Visit(when, customer_id, sub_id, leaving=False))
            invoice = None
            for index, p_start in enumerate(periods):
                renewal = index > 0
                fails = renewal and rng.random() < 0.045
                if not fails and index < len(periods) - 3:
                    continue  # older paid invoices add nothing a page shows
                invoice = _invoice(account, n, index, sub, price, p_start, p_start + month, paid=not fails)
                if fails:
                    failures.append({"invoice": invoice, "at": p_start + timedelta(hours=rng.uniform(1, 6)),
                                     "decline": _weighted(rng, DECLINES), "customer": account.objects[customer_id]})  # fmt: skip
            if invoice:
                sub["latest_invoice"] = invoice["id"]
            account.put(sub)
        # An account that has been failing lately, so the newest campaigns are still in flight.
        leaving = {v.subscription_id for v in visits if v.leaving}
        recent = [
            s for s in account.of_kind("subscription") if s["status"] == "active" and s["id"] not in leaving
        ]
        for sub in rng.sample(recent, 10):
            n = int(sub["id"][-4:])
            price = sub["items"]["data"][0]["price"]
            p_start = datetime.fromtimestamp(sub["items"]["data"][0]["current_period_start"], tz=now.tzinfo)
            invoice = _invoice(account, n, 99, sub, price, p_start, p_start + month, paid=False)
            at = min(now - timedelta(hours=rng.uniform(2, 200)), now - timedelta(hours=1))
            sub["status"] = "past_due"
            failures.append({"invoice": invoice, "at": at, "decline": _weighted(rng, DECLINES),
                             "customer": account.objects[sub["customer"]]})  # fmt: skip
        for kind in ("payment_method", "customer", "subscription", "invoice"):
            for obj in account.of_kind(kind):
                mirror.apply_object(db, workspace_id, typed(obj), version)
    failures.sort(key=lambda f: f["at"])
    return failures


def _invoice(account, n, index, sub, price, p_start, p_end, *, paid: bool) -> dict:
    amount = price["unit_amount"]
    created = int(p_start.timestamp())
    invoice_id = f"in_demo{n:04d}{index:02d}"
    return account.put({
        "id": invoice_id, "object": "invoice", "customer": sub["customer"], "currency": sub["currency"],
        "parent": {"type": "subscription_details", "subscription_details": {"subscription": sub["id"]}},
        "status": "paid" if paid else "open", "number": f"DEMO-{n:04d}-{index + 1:03d}",
        "billing_reason": "subscription_cycle" if index else "subscription_create",
        "collection_method": "charge_automatically", "amount_due": amount,
        "amount_paid": amount if paid else 0, "amount_remaining": 0 if paid else amount,
        "attempt_count": 1, "attempted": True, "next_payment_attempt": None if paid else created + 3 * 86400,
        "auto_advance": not paid, "hosted_invoice_url": None,
        "period_start": created, "period_end": int(p_end.timestamp()), "created": created,
        "status_transitions": {"paid_at": created + 60 if paid else None},
        "lines": {"object": "list", "has_more": False, "data": [{
            "id": f"il_demo{n:04d}{index:02d}", "object": "line_item", "amount": amount,
            "currency": sub["currency"], "quantity": 1,
            "description": f"1 × {price['product'].removeprefix('prod_demo')} (monthly)",
            "pricing": {"price_details": {"price": price["id"]}},
            "period": {"start": created, "end": int(p_end.timestamp())}}]},
    })  # fmt: skip


def _replay_recovery(db, settings, workspace_id, account, failures, rng, now) -> None:
    """Open a campaign for each failed renewal at the time it failed, then run every recovery
    step when it was due, with the stand-in deciding each retry the way the script says."""
    from backstop.recovery import actions, campaigns, steps
    from backstop.stripe_sync import connection, mirror

    box = SecretBox(settings.secret_key)

    gateways: dict[int, object] = {}

    def gateway_for(ws_id: int):
        if ws_id not in gateways:  # one client for the whole replay, as one job would use
            gateways[ws_id] = connection.gateway(db, box, settings, ws_id, max_attempts=1)
        return gateways[ws_id]

    abandon_after: dict[int, datetime] = {}
    for failure in failures:
        invoice, decline = failure["invoice"], failure["decline"]
        soft = decline not in ("lost_card", "incorrect_cvc", "expired_card", "authentication_required")
        roll = rng.random()
        # Soft declines mostly pay on a later retry; hard ones only sometimes.
        pays_on = rng.choice((2, 2, 3, 3, 4)) if roll < (0.75 if soft else 0.35) else None
        account.scripts[invoice["id"]] = {"decline_code": decline, "pays_on_attempt": pays_on}
        with clock_at(failure["at"]), write_transaction(db):
            customer = failure["customer"]
            campaign, _ = campaigns.open_campaign(
                db,
                workspace_id,
                campaigns.FailedInvoice(
                    invoice_id=invoice["id"], customer_id=customer["id"],
                    subscription_id=invoice["parent"]["subscription_details"]["subscription"],
                    amount_due=invoice["amount_due"], currency=invoice["currency"], attempt_count=1,
                    decline_code=decline, advice_code=None, customer_email=customer["email"],
                    customer_name=customer["name"],
                ),
            )  # fmt: skip
        if pays_on is None and rng.random() < 0.25:
            abandon_after[campaign["id"]] = failure["at"] + timedelta(days=rng.uniform(5, 12))

    def due() -> list[tuple[str, int]]:
        return [
            (row[0], row[1])
            for row in db.execute(
                "SELECT due_at, id FROM recovery_steps WHERE workspace_id = ? AND work_state = 'pending' "
                "AND due_at <= ? ORDER BY due_at, id LIMIT 1",
                [workspace_id, clock.iso(now)],
            ).fetchall()
        ]

    fast = replace(settings)
    while True:
        pending = due()
        if not pending:
            break
        due_at, step_id = pending[0]
        moment = clock.parse(due_at)
        for campaign_id, when in list(abandon_after.items()):
            if when <= moment:
                with clock_at(when), suppress(ValidationError):  # it may have closed on its own
                    actions.close_as_abandoned(db, workspace_id, campaign_id, ADMIN_EMAIL, gateway_for)
                del abandon_after[campaign_id]
        with clock_at(moment):
            steps.run_step(db, step_id, settings=fast, gateway_for=gateway_for)
    # What the replay changed in Stripe (paid, canceled) is what the mirror shows.
    with write_transaction(db):
        version = int(now.timestamp()) + 1
        for kind in ("invoice", "subscription"):
            for obj in account.of_kind(kind):
                mirror.apply_object(db, workspace_id, typed(obj), version)
