"""Builders and helpers shared by the test packages: Stripe objects shaped like Stripe's own
examples, rows of tables another capability owns, the event loop that feeds the fake Stripe's
events to Backstop, and ways to read a page as a person does.

Test modules import these from here, never from each other.
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from html import unescape
from pathlib import Path

from backstop import clock
from backstop.db import connect, opened
from backstop.lib.crypto import SecretBox
from backstop.recovery import links, policy, steps
from backstop.settings import Settings, ensure_secret_key
from backstop.stripe_sync import connection, events
from backstop.stripe_sync.mirror import apply_object

# -- Stripe objects in the mirror ------------------------------------------------------------------

EXAMPLES = json.loads((Path(__file__).resolve().parent / "stripe_sync" / "stripe_examples.json").read_text())
VERSION = 1_760_000_000
MONTH = 30 * 86400


def _from_example(kind: str, **fields) -> dict:
    obj = copy.deepcopy(EXAMPLES[kind])
    obj.update(fields)
    return obj


def stripe_product(prod_id: str = "prod_pro", name: str = "Pro") -> dict:
    return _from_example("product", id=prod_id, name=name)


def stripe_price(
    price_id: str = "price_pro_monthly",
    product: str = "prod_pro",
    amount: int = 4900,
    currency: str = "usd",
    interval: str = "month",
    nickname: str | None = None,
) -> dict:
    price = _from_example(
        "price", id=price_id, product=product, unit_amount=amount, currency=currency, nickname=nickname
    )
    price["unit_amount_decimal"] = str(amount)
    price["recurring"] = {**price["recurring"], "interval": interval, "interval_count": 1}
    return price


def stripe_card(
    pm_id: str,
    customer: str | None,
    brand: str = "visa",
    last4: str = "4242",
    exp: tuple[int, int] = (8, 2030),
) -> dict:
    pm = _from_example("payment_method", id=pm_id, customer=customer)
    pm["card"] = {**pm["card"], "brand": brand, "display_brand": brand, "last4": last4}
    pm["card"]["exp_month"], pm["card"]["exp_year"] = exp
    return pm


def stripe_customer(
    cid: str,
    email: str | None,
    name: str | None = None,
    created: int = 1_700_000_000,
    metadata: dict | None = None,
    card: dict | None = None,
) -> dict:
    obj = _from_example(
        "customer", id=cid, email=email, name=name, created=created, metadata=metadata or {}, discount=None
    )
    obj["invoice_settings"] = {**obj["invoice_settings"], "default_payment_method": card}
    return obj


def stripe_subscription(
    sub_id: str,
    customer: str,
    price: dict | None = None,
    status: str = "active",
    period_end: int = 1_790_000_000,
    quantity: int = 1,
    cancel_at_period_end: bool = False,
    pause: dict | None = None,
    created: int = 1_700_000_000,
    default_payment_method: str | dict | None = None,
) -> dict:
    price = price or stripe_price()
    item = copy.deepcopy(EXAMPLES["subscription"]["items"]["data"][0])
    item.update(
        id=f"si_{sub_id}",
        price=price,
        quantity=quantity,
        current_period_start=period_end - MONTH,
        current_period_end=period_end,
    )
    item.pop("plan", None)
    sub = _from_example(
        "subscription",
        id=sub_id,
        customer=customer,
        status=status,
        currency=price["currency"],
        cancel_at_period_end=cancel_at_period_end,
        cancel_at=period_end if cancel_at_period_end else None,
        canceled_at=None,
        ended_at=None,
        trial_end=period_end if status == "trialing" else None,
        pause_collection=pause,
        created=created,
        default_payment_method=default_payment_method,
        discounts=[],
    )
    sub["items"] = {**sub["items"], "data": [item], "has_more": False}
    return sub


def stripe_invoice(
    in_id: str,
    customer: str,
    subscription: str | None = None,
    status: str = "paid",
    amount: int = 4900,
    currency: str = "usd",
    created: int = 1_700_000_000,
    hosted_invoice_url: str | None = None,
    lines: list[tuple[str, int]] | None = None,
) -> dict:
    paid = status == "paid"
    inv = _from_example(
        "invoice",
        id=in_id,
        customer=customer,
        status=status,
        currency=currency,
        amount_due=amount,
        amount_paid=amount if paid else 0,
        amount_remaining=0 if paid else amount,
        created=created,
        number=f"ACME-{in_id[-4:].upper()}",
        hosted_invoice_url=hosted_invoice_url,
        billing_reason="subscription_cycle" if subscription else "manual",
        subscription=None,
    )
    inv["parent"] = (
        {
            "type": "subscription_details",
            "subscription_details": {"subscription": subscription, "metadata": {}},
        }
        if subscription
        else None
    )
    template = EXAMPLES["invoice"]["lines"]["data"][0]
    inv["lines"] = {
        **inv["lines"],
        "url": f"/v1/invoices/{in_id}/lines",
        "has_more": False,
        "data": [
            {
                **copy.deepcopy(template),
                "id": f"il_{in_id}_{n}",
                "invoice": in_id,
                "description": text,
                "amount": cents,
            }
            for n, (text, cents) in enumerate(lines or [("1 × Pro (at $49.00 / month)", amount)])
        ],
    }
    return inv


def put(db, workspace_id: int, *objects: dict) -> None:
    for obj in objects:
        assert apply_object(db, workspace_id, obj, VERSION) in ("written", "unchanged")


def put_customer_with_plan(
    db,
    workspace_id: int,
    cid: str,
    email: str,
    *,
    name: str | None = None,
    created: int = 1_700_000_000,
    **sub,
) -> None:
    """A customer paying for Pro ($49/month) with a Visa on file."""
    card = stripe_card(f"pm_{cid}", cid)
    put(
        db,
        workspace_id,
        stripe_product(),
        stripe_price(),
        stripe_customer(cid, email, name, created, card=card),
        stripe_subscription(f"sub_{cid}", cid, created=created, **sub),
    )


def put_customer_campaign(
    db, workspace_id: int, customer_id: str, invoice_id: str, status: str = "in_flight"
) -> None:
    """A recovery campaign row as recovery writes it, with the columns a customer's page reads."""
    values = {"customer_id": customer_id, "invoice_id": invoice_id, "status": status}
    money = {"amount_due": 4900, "currency": "usd", "opened_at": "2026-11-01T10:00:00+00:00"}
    put_row(db, "campaigns", {"workspace_id": workspace_id, **values, **money})


# -- rows of tables other capabilities own ------------------------------------------------------

SEED_TITLES = [
    "Connect Stripe",
    "Verify a send domain (optional)",
    "Build & publish your first cancel flow",
    "Embed it (and close the Stripe bypass)",
    "Watch recoveries roll in",
]


def put_row(db, table: str, values: dict) -> None:
    """Insert a row in a table another capability owns, whatever its full schema is by now.

    Before that capability's migration lands, a table with just these columns stands in. Once the
    real table exists, its other required columns get placeholder values: the checklist only
    reads the columns given here.
    """
    if not db[table].exists():
        db[table].create({k: type(v) if v is not None else str for k, v in values.items()})
    row = dict(values)
    for col in db.execute(f"PRAGMA table_info([{table}])").fetchall():
        if col["notnull"] and col["dflt_value"] is None and not col["pk"] and col["name"] not in row:
            kind = (col["type"] or "").upper()
            row[col["name"]] = 0 if "INT" in kind else f"placeholder-{col['name']}-{clock.now_ts()}"
    columns = ", ".join(f"[{c}]" for c in row)
    marks = ", ".join("?" for _ in row)
    db.execute("PRAGMA foreign_keys=OFF")
    try:
        db.execute(f"INSERT INTO [{table}] ({columns}) VALUES ({marks})", list(row.values()))  # noqa: S608
    finally:
        db.execute("PRAGMA foreign_keys=ON")


def connect_stripe(db, workspace_id: int, status: str = "live", livemode: int = 0) -> None:
    """A Stripe connection row as the Stripe capability leaves it, by restricted key."""
    values = {"workspace_id": workspace_id, "status": status, "livemode": livemode}
    put_row(db, "stripe_connections", {**values, "method": "restricted_key"})


def put_open_campaign(db, workspace_id: int) -> None:
    """A recovery campaign in flight, with the columns the Overview's numbers read."""
    values = {"workspace_id": workspace_id, "status": "in_flight", "currency": "usd", "amount_due": 4900}
    put_row(db, "campaigns", {**values, "closed_at": None})


# -- the recovery loop ------------------------------------------------------------------------------


class Loop:
    """Feeds the fake's events to Backstop in order and runs due recovery steps, as the jobs do."""

    def __init__(self, db, box, settings, fake, workspace):
        self.db, self.box, self.settings, self.fake, self.ws = db, box, settings, fake, workspace
        self.seen: set[str] = set()

    def gateway(self, workspace_id):
        return connection.gateway(self.db, self.box, self.settings, workspace_id)

    def pump_events(self, limit: int | None = None) -> list[str]:
        new = [e for e in reversed(self.fake.events()) if e["id"] not in self.seen][:limit]
        processed = []
        for event in new:
            self.seen.add(event["id"])
            row_id, _ = events.ingest_event(self.db, self.ws.id, event, "webhook")

            def fetch_for(ws_id):
                gw = self.gateway(ws_id)
                return lambda path, params=None: gw.get(path, params)

            events.process_event(self.db, row_id, fetch_for, self.settings)
            processed.append(event["type"])
        return processed

    def run_due(self) -> list[str]:
        outcomes = []
        for step_id in steps.due_step_ids(self.db):
            outcomes.append(
                steps.run_step(self.db, step_id, settings=self.settings, gateway_for=self.gateway)
            )
        return outcomes

    def settle(self, one_event_at_a_time: bool = False) -> None:
        """Events and steps until nothing changes (a step's Stripe call makes new events).
        ``one_event_at_a_time`` runs due steps after every event, as a busy worker pool might."""
        for _ in range(30):
            if not self.pump_events(1 if one_event_at_a_time else None) and not [
                o for o in self.run_due() if o
            ]:
                return


# -- pages and API answers ----------------------------------------------------------------------


def text_of(html: str) -> str:
    """The page as a person reads it: tags dropped, entities decoded, spaces collapsed."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def field_error(html: str, name: str) -> str | None:
    match = re.search(rf'<p class="error" id="e-{name}">(.*?)</p>', html, flags=re.S)
    return unescape(match.group(1)) if match else None


def assert_error(response, status: int, type_: str) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"type", "message"}
    assert body["error"]["type"] == type_
    assert body["error"]["message"].strip()
    assert "Traceback" not in response.text
    return body["error"]["message"]


# -- files ----------------------------------------------------------------------------------------

NOT_A_DATABASE = b"these bytes were never a SQLite database " * 200


# -- the cancel flow document ------------------------------------------------------------------

STANDARD = {
    "format": "backstop.cancel_flow/1",
    "name": "SaaS Standard",
    "settings": {"cancel_at": "period_end", "proration": "create_prorations"},
    "start": "survey",
    "nodes": [
        {
            "id": "survey",
            "type": "survey",
            "title": "Before you go — what's the main reason?",
            "body": "",
            "free_text": {"enabled": True, "label": "Anything we could have done better?"},
            "reasons": [
                {"code": "too_expensive", "label": "It's too expensive", "next": "offer_price"},
                {"code": "not_using", "label": "I'm not using it enough", "next": "offer_pause"},
                {"code": "other", "label": "Something else", "next": "confirm"},
            ],
        },
        {
            "id": "offer_price",
            "type": "offer",
            "variants": [
                {
                    "id": "a",
                    "weight": 50,
                    "offer": {
                        "kind": "discount",
                        "percent_off": 30,
                        "duration_months": 3,
                        "headline": "Stay for 30% less",
                        "body": "Three months at 30% off.",
                        "accept_label": "Keep my plan at 30% off",
                    },
                },
                {
                    "id": "b",
                    "weight": 50,
                    "offer": {
                        "kind": "discount",
                        "percent_off": 20,
                        "duration_months": 6,
                        "headline": "Stay for 20% less",
                        "body": "Six months at 20% off.",
                        "accept_label": "Keep my plan at 20% off",
                    },
                },
            ],
            "on_decline": "offer_pause",
        },
        {
            "id": "offer_pause",
            "type": "offer",
            "variants": [
                {
                    "id": "a",
                    "weight": 1,
                    "offer": {
                        "kind": "pause",
                        "months": 2,
                        "headline": "Take a break instead",
                        "body": "",
                        "accept_label": "Pause for 2 months",
                    },
                }
            ],
            "on_decline": "confirm",
        },
        {"id": "confirm", "type": "confirm", "title": "We're sorry to see you go", "body": "Thanks."},
    ],
}


# -- rows of mirrored prices -----------------------------------------------------------------------


def put_price(
    db, ws_id, price_id, amount, interval="month", currency="usd", active=1, product="prod_a", **kw
):
    db["stripe_products"].upsert(
        {
            "workspace_id": ws_id,
            "id": product,
            "name": "Acme Pro",
            "active": 1,
            "deleted": 0,
            "version": 1,
            "synced_at": "x",
        },
        pk=("workspace_id", "id"),
    )
    db["stripe_prices"].insert(
        {
            "workspace_id": ws_id,
            "id": price_id,
            "product_id": product,
            "currency": currency,
            "unit_amount": amount,
            "interval": interval,
            "interval_count": 1,
            "nickname": kw.get("nickname"),
            "active": active,
            "deleted": 0,
            "version": 1,
            "synced_at": "x",
        }
    )


# -- the backstop command ------------------------------------------------------------------------

OLIVIA = "olivia@acme.test"
GOOD_PASSWORD = "olivia-owns-the-shop"


class Backstop:
    """Runs ``backstop`` against one data dir and opens that dir's database."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.env = {"BACKSTOP_DATA_DIR": str(data_dir)}

    def __call__(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
        clean = {k: v for k, v in os.environ.items() if not k.startswith("BACKSTOP_")}
        return subprocess.run(
            [str(Path(sys.executable).parent / "backstop"), *args],
            env={**clean, "COLUMNS": "400", **self.env},
            input=stdin,
            capture_output=True,
            text=True,
            timeout=30,
        )

    def db(self):
        return opened(self.data_dir / "backstop.db")

    def box(self) -> SecretBox:
        return SecretBox(ensure_secret_key(Settings(data_dir=self.data_dir)).secret_key)


def assert_fails_with(result, *fragments: str) -> None:
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr


class LockWhile:
    """Take the database's write lock from another connection as soon as the fake Stripe receives
    a matching request (which it answers late), and hold it for ``seconds``."""

    def __init__(self, db_path, fake, method: str, path: str, seconds: float = 2.0) -> None:
        self.db_path, self.fake, self.method, self.path, self.seconds = db_path, fake, method, path, seconds
        fake.faults.slow(0.6, path=path, method=method)
        self.taken = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if any(r.method == self.method and r.path.startswith(self.path) for r in self.fake.requests):
                break
            time.sleep(0.005)
        else:
            return
        db = connect(self.db_path)
        db.execute("BEGIN IMMEDIATE")
        self.taken.set()
        time.sleep(self.seconds)
        db.execute("COMMIT")
        db.conn.close()

    def join(self) -> None:
        self._thread.join(timeout=30)


def url_for(settings, campaign):
    return f"/update-card/{links.update_card_token(settings.secret_key, campaign['workspace_id'], campaign['id'])}"


def form_data(html: str) -> dict[str, str]:
    return dict(re.findall(r'data-(\w+)="([^"]*)"', html.split('id="uc-form"', 1)[1].split(">", 1)[0]))


def csrf_of(html: str) -> str:
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', html).group(1)


def confirm_in_browser(fake_stripe, client_secret: str, card: str = "pm_card_visa") -> dict:
    """What Stripe.js does with the publishable key: confirm the SetupIntent with the client secret."""
    seti_id = client_secret.split("_secret_")[0]
    browser = fake_stripe.client(fake_stripe.publishable_key)
    return browser.v1.setup_intents.confirm(
        seti_id, params={"client_secret": client_secret, "payment_method": card}
    )


# -- failed-invoice histories for the policy backtest ----------------------------------------------

DAY = 86400


def _stripe_event_row(
    workspace_id: int, event_id: str, type_: str, obj: dict, created: int, previous=None
) -> tuple:
    event = {
        "id": event_id,
        "object": "event",
        "type": type_,
        "created": created,
        "livemode": False,
        "data": {"object": obj, **({"previous_attributes": previous} if previous else {})},
    }
    iso = clock.iso()
    payload = json.dumps(event, separators=(",", ":"))
    return (workspace_id, event_id, type_, obj["id"], created, 0, payload, "webhook", iso, "done", iso)


def put_failed_invoice(
    db,
    workspace_id: int,
    invoice_id: str,
    *,
    failed_at: int,
    decline_code: str | None = "insufficient_funds",
    campaign: str | None = "in_flight",
    stripe_failures: tuple[float, ...] = (),
    backstop_attempts: tuple[tuple[float, str, str | None], ...] = (),
    card_changes: tuple[float, ...] = (),
    paid_day: float | None = None,
    final: bool = False,
    amount: int = 4900,
    currency: str = "usd",
) -> None:
    """One failed subscription invoice as the mirror and Backstop's history keep it.

    ``failed_at`` is the first failure (Unix seconds); the other times are days after it:
    Stripe's own failed attempts, Backstop's attempts ``(day, "declined"|"succeeded", code)``,
    the customer's new default cards, and when the invoice was paid. ``campaign`` is the campaign's
    status, or None for an invoice Backstop never ran a campaign for (only Stripe's events)."""
    at = lambda day: failed_at + round(day * DAY)  # noqa: E731
    customer = f"cus_{invoice_id}"
    status = "paid" if paid_day is not None else ("void" if final and campaign is None else "open")
    invoice = stripe_invoice(invoice_id, customer, f"sub_{invoice_id}", status, amount, currency, failed_at)
    invoice["attempt_count"] = 1 + len(stripe_failures) + len(backstop_attempts)
    invoice["status_transitions"] = {**(invoice.get("status_transitions") or {}), "paid_at": None}
    if paid_day is not None:
        invoice["status_transitions"]["paid_at"] = at(paid_day)
    apply_object(db, workspace_id, invoice, VERSION)
    events = [
        _stripe_event_row(workspace_id, f"evt_{invoice_id}_f{n}", "invoice.payment_failed", invoice, at(day))
        for n, day in enumerate(
            (0, *stripe_failures, *(d for d, o, _ in backstop_attempts if o == "declined"))
        )
    ]
    for n, day in enumerate(card_changes):
        obj = {
            "id": customer,
            "object": "customer",
            "invoice_settings": {"default_payment_method": f"pm_{n + 1}"},
        }
        previous = {"invoice_settings": {"default_payment_method": f"pm_{n}"}}
        events.append(
            _stripe_event_row(
                workspace_id, f"evt_{invoice_id}_c{n}", "customer.updated", obj, at(day), previous
            )
        )
    db.conn.executemany(
        "INSERT INTO stripe_events (workspace_id, event_id, type, object_id, created, livemode, payload, "
        "source, received_at, work_state, due_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        events,
    )
    if campaign is None:
        return
    iso = lambda day: clock.iso(datetime.fromtimestamp(at(day), UTC))  # noqa: E731
    closed = {"recovered": paid_day, "lost": 30.0}.get(campaign)
    cur = db.execute(
        "INSERT INTO campaigns (workspace_id, invoice_id, customer_id, subscription_id, amount_due, currency, "
        "decline_code, decline_class, stripe_attempts, status, first_failed_at, opened_at, closed_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?)",
        [
            workspace_id,
            invoice_id,
            customer,
            f"sub_{invoice_id}",
            amount,
            currency,
            decline_code,
            policy.classify(decline_code),
            campaign,
            iso(0),
            iso(0),
            iso(closed) if closed is not None else None,
        ],
    )
    campaign_id = cur.lastrowid
    db.execute(
        "INSERT INTO campaign_events (campaign_id, at, kind, detail) VALUES (?, ?, 'opened', ?)",
        [campaign_id, iso(0), json.dumps({"decline_code": decline_code})],
    )
    for n, (day, outcome, code) in enumerate(backstop_attempts, start=1):
        db.execute(
            "INSERT INTO payment_attempts (campaign_id, attempt_number, idempotency_key, trigger, attempted_at, "
            "outcome, decline_code) VALUES (?, ?, ?, 'schedule', ?, ?, ?)",
            [campaign_id, n, f"backstop-{campaign_id}-attempt-{n}", iso(day), outcome, code],
        )


# Ten kinds of failed invoice, each with its hand-computed outcome under the default policy and
# under BACKTEST_DRAFT (see tests/recovery/test_backtest.py for the working).
BACKTEST_PATTERNS: dict[str, dict] = {
    # Stripe only: a Smart Retry failed on day 1, the same card paid on day 4.
    "a_same_card_day4": {"campaign": None, "decline_code": None, "stripe_failures": (1,), "paid_day": 4},
    # Backstop's retry failed on day 3, its retry on day 8 paid.
    "b_backstop_paid_day8": {
        "campaign": "recovered",
        "backstop_attempts": ((3, "declined", "insufficient_funds"), (8, "succeeded", None)),
        "paid_day": 8,
    },
    # Expired card: the customer set a new card on day 5, which paid.
    "c_expired_new_card": {
        "campaign": "recovered",
        "decline_code": "expired_card",
        "backstop_attempts": ((3, "declined", "expired_card"),),
        "card_changes": (5,),
        "paid_day": 5,
    },
    # Stolen card: a new card on day 10 paid.
    "d_stolen_new_card": {
        "campaign": "recovered",
        "decline_code": "stolen_card",
        "card_changes": (10,),
        "paid_day": 10,
    },
    # Never paid.
    "e_never_paid": {
        "campaign": "lost",
        "backstop_attempts": ((3, "declined", None), (8, "declined", None), (15, "declined", None)),
        "final": True,
    },
    # The same card paid on day 20 (the customer paid the invoice page).
    "f_same_card_day20": {
        "campaign": "recovered",
        "decline_code": "do_not_honor",
        "backstop_attempts": ((3, "declined", "do_not_honor"), (8, "declined", None), (15, "declined", None)),
        "paid_day": 20,
    },
    # Lost card, yet the same card paid on day 4: the networks forbid the retry.
    "h_lost_card_paid_day4": {"campaign": "recovered", "decline_code": "lost_card", "paid_day": 4},
    # A new card on day 1 that was declined too; never paid.
    "i_new_card_declined": {
        "campaign": "lost",
        "card_changes": (1,),
        "backstop_attempts": ((1, "declined", None), (3, "declined", None)),
        "final": True,
    },
    # The retry on day 3 came back lost_card; never paid.
    "j_turns_lost_card": {
        "campaign": "lost",
        "backstop_attempts": ((3, "declined", "lost_card"),),
        "final": True,
    },
}
# The draft the backtest tests compare with the default policy, as a policy file holds it: soft
# declines retried on days 2, 6 and 20, no retry of hard declines, at most 4 attempts.
BACKTEST_DRAFT = {
    "max_attempts": 4,
    "rules": {"soft": {"retries": 3, "gaps_days": [2, 4, 14]}, "hard": {"retries": 0, "gaps_days": []}},
}
BACKTEST_OPEN = "g_still_open"  # failed yesterday, not paid yet


def put_backtest_history(db, workspace_id: int, now: datetime, count: int = 500) -> dict[str, str]:
    """``count`` failed invoices cycling through the ten patterns (the last of each ten still
    open), first failures spread over the last 80 days; returns each invoice id's pattern."""
    names = [*BACKTEST_PATTERNS, BACKTEST_OPEN]
    made = {}
    end = int(now.timestamp())
    for n in range(count):
        name = names[n % len(names)]
        invoice_id = f"in_bt{n:05d}"
        if name == BACKTEST_OPEN:
            put_failed_invoice(db, workspace_id, invoice_id, failed_at=end - DAY)
        else:
            failed_at = end - (50 + n * 30 // max(count, 1)) * DAY - (n % 7) * 3600
            put_failed_invoice(db, workspace_id, invoice_id, failed_at=failed_at, **BACKTEST_PATTERNS[name])
        made[invoice_id] = name
    return made


# -- a workspace with something in every exported table ------------------------------------------


@dataclass
class Filled:
    workspace_id: int
    embed_secret: str
    webhook_secret: str
    api_token: str
    stripe_key: str


def fill_workspace(db, box: SecretBox, workspace_id: int, embed_secret: str, *, tag: str = "acme") -> Filled:
    """Rows in every table an export reads, made through the owning domain where it has a writer,
    with real secrets encrypted at rest, so an export can be checked for leaks."""
    from backstop.db import write_transaction
    from backstop.webhooks_out.endpoints import create_endpoint
    from backstop.webhooks_out.events import record_event
    from backstop.workspaces.tokens import create_token

    stripe_key = f"rk_test_{tag}_secret_0123456789"
    put_customer_with_plan(db, workspace_id, f"cus_{tag}1", f"ada@{tag}.test", name="Ada Lovelace")
    put(db, workspace_id, stripe_invoice(f"in_{tag}1", f"cus_{tag}1", f"sub_cus_{tag}1"))
    put_row(
        db,
        "stripe_connections",
        {
            "workspace_id": workspace_id,
            "method": "restricted_key",
            "account_id": f"acct_{tag}",
            "livemode": 0,
            "status": "live",
            "api_key_enc": box.encrypt(stripe_key),
            "webhook_secret_enc": box.encrypt(f"whsec_{tag}_signing"),
            "connected_at": "2026-11-01T09:00:00+00:00",
            "updated_at": "2026-11-01T09:00:00+00:00",
        },
    )
    put_customer_campaign(db, workspace_id, f"cus_{tag}1", f"in_{tag}1", status="recovered")
    campaign_id = db.execute("SELECT max(id) FROM campaigns").fetchone()[0]
    put_row(
        db,
        "campaign_events",
        {"campaign_id": campaign_id, "at": "2026-11-01T10:00:00+00:00", "kind": "opened"},
    )
    put_row(
        db,
        "payment_attempts",
        {
            "campaign_id": campaign_id,
            "attempt_number": 1,
            "idempotency_key": f"key-{tag}-1",
            "trigger": "schedule",
            "attempted_at": "2026-11-04T10:00:00+00:00",
            "outcome": "succeeded",
        },
    )
    put_row(
        db,
        "email_messages",
        {
            "workspace_id": workspace_id,
            "kind": "dunning_1",
            "category": "transactional",
            "to_email": f"ada@{tag}.test",
            "subject": "Your payment didn't go through",
            "html": "<p>hi</p>",
            "text": "hi",
            "unsubscribe_url": "https://example.test/u",
            "status": "sent",
            "created_at": "2026-11-01T10:00:00+00:00",
            "updated_at": "2026-11-01T10:00:00+00:00",
            "due_at": "2026-11-01T10:00:00+00:00",
        },
    )
    put_row(
        db,
        "cancel_sessions",
        {
            "workspace_id": workspace_id,
            "key_hash": f"hash-{tag}",
            "source": "embed",
            "customer_id": f"cus_{tag}1",
            "arm": "flow",
            "state": "finished",
            "outcome": "saved_pause",
            "currency": "usd",
            "mrr_at_stake": 4900,
            "mrr_saved": 4900,
            "opened_at": "2026-11-02T10:00:00+00:00",
        },
    )
    _, token = create_token(db, workspace_id, "Zapier", livemode=False)
    _, webhook_secret = create_endpoint(
        db,
        box,
        workspace_id,
        url="http://127.0.0.1:9/hook",
        events=["recovery.recovered"],
        allow_private=True,
    )
    with write_transaction(db):
        record_event(db, workspace_id, "recovery.recovered", {"campaign": campaign_id})
    return Filled(workspace_id, embed_secret, webhook_secret, token, stripe_key)
