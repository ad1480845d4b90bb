"""A Stripe account that lives inside the demo process.

``DemoStripe`` holds the demo's customers, prices, subscriptions and invoices as Stripe shapes
them, and ``DemoTransport`` is an HTTP client for the ``stripe`` SDK that answers from it, so
every Stripe call Backstop makes (through the one Stripe port) is served in memory: nothing
leaves the machine, and the demo has no way to reach a real Stripe account. It answers only the
demo's own key; any other key gets Stripe's 401.
"""

from __future__ import annotations

import hmac
import json
import secrets
import threading
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import stripe

DEMO_KEY = "rk_test_backstopdemo_000000000000000000"
DEMO_PUBLISHABLE_KEY = "pk_test_backstopdemo_000000000000000000"

# The decline each scripted failure answers a retry with, until the script says it pays.
DECLINE_MESSAGES = {
    "insufficient_funds": "Your card has insufficient funds.",
    "expired_card": "Your card has expired.",
    "card_velocity_exceeded": "Your card has exceeded its limit.",
    "do_not_honor": "Your card was declined.",
    "generic_decline": "Your card was declined.",
    "authentication_required": "Your card requires authentication.",
    "lost_card": "Your card was declined.",
    "incorrect_cvc": "Your card's security code is incorrect.",
    "processing_error": "An error occurred while processing your card.",
}


# Stripe's test cards that the demo card form takes (by the test PaymentMethod it sends).
TEST_CARDS = {
    "pm_card_visa": {"brand": "visa", "last4": "4242", "setup_declines": False, "declines_with": ""},
    "pm_card_mastercard": {"brand": "mastercard", "last4": "4444", "setup_declines": False, "declines_with": ""},
    "pm_card_chargeCustomerFail_insufficient_funds": {
        "brand": "visa", "last4": "9995", "setup_declines": False, "declines_with": "insufficient_funds"},
    "pm_card_chargeDeclined": {"brand": "visa", "last4": "0002", "setup_declines": True, "declines_with": ""},
}  # fmt: skip


class DemoStripe:
    """The demo account's objects by id, and what each failing invoice does on its next retries."""

    def __init__(self) -> None:
        self.objects: dict[str, dict] = {}
        self.lock = threading.RLock()
        # invoice id -> {"decline_code": str, "pays_on_attempt": int | None}
        self.scripts: dict[str, dict] = {}
        self.calls = 0
        self._counter = 0
        # payment method id -> the decline code its charges get ("" when they pay): cards typed
        # into the demo card form.
        self.entered_cards: dict[str, str] = {}

    def new_id(self, prefix: str) -> str:
        with self.lock:
            self._counter += 1
            return f"{prefix}_demo{self._counter:06d}"

    def put(self, obj: dict) -> dict:
        self.objects[obj["id"]] = obj
        return obj

    def of_kind(self, kind: str) -> list[dict]:
        return [o for o in self.objects.values() if o.get("object") == kind]

    # -- requests ----------------------------------------------------------------------------

    def handle(self, method: str, path: str, params: dict[str, str]) -> tuple[int, dict]:
        self.calls += 1
        parts = [p for p in path.split("/") if p][1:]  # drop "v1"
        with self.lock:
            try:
                return 200, self._route(method.lower(), parts, params)
            except _Error as exc:
                return exc.status, {"error": exc.body}

    def _route(self, method: str, parts: list[str], params: dict[str, str]) -> dict:
        if not parts:
            raise _missing("")
        kind = parts[0]
        if kind == "invoice_payments" and method == "get":
            return self._invoice_payments(params.get("invoice", ""))
        if len(parts) == 1 and method == "get":
            return self._list(kind, params)
        if kind == "setup_intents" and method == "post" and len(parts) == 1:
            intent_id = self.new_id("seti")
            return self.put({"id": intent_id, "object": "setup_intent", "status": "requires_payment_method",
                             "client_secret": f"{intent_id}_secret_{secrets.token_hex(8)}",
                             "customer": params.get("customer"), "payment_method": None,
                             "usage": params.get("usage", "off_session"), "created": int(_now())})  # fmt: skip
        if kind == "coupons" and method == "post" and len(parts) == 1:
            return self._coupon(params)
        obj = self.objects.get(parts[1]) if len(parts) > 1 else None
        if obj is None:
            raise _missing(parts[1] if len(parts) > 1 else kind)
        if len(parts) == 2 and method == "get":
            if kind == "setup_intents" and "payment_method" in params.values() and obj["payment_method"]:
                return {**obj, "payment_method": self.objects[obj["payment_method"]]}  # expand[]
            return obj
        if kind == "invoices" and len(parts) == 3 and method == "post":
            return self._invoice_action(obj, parts[2])
        if kind == "invoices" and len(parts) == 2 and method == "post":
            if "auto_advance" in params:
                obj["auto_advance"] = params["auto_advance"] == "true"
            return obj
        if kind == "subscriptions" and len(parts) == 2 and method == "delete":
            obj.update(status="canceled", canceled_at=int(_now()), ended_at=int(_now()))
            _cancellation_details(obj, params)
            return obj
        if kind == "subscriptions" and len(parts) == 2 and method == "post":
            return self._update_subscription(obj, params)
        if kind == "customers" and len(parts) == 2 and method == "post":
            if "invoice_settings[default_payment_method]" in params:
                obj["invoice_settings"]["default_payment_method"] = params[
                    "invoice_settings[default_payment_method]"
                ]
            return obj
        if method == "post" and len(parts) == 2:
            return obj
        raise _missing("/".join(parts))

    def _coupon(self, params: dict[str, str]) -> dict:
        """A save offer's coupon (the same id again is the same coupon, as Stripe's idempotency
        would answer)."""
        coupon_id = params.get("id") or self.new_id("coupon")
        if coupon_id in self.objects:
            return self.objects[coupon_id]
        number = {k: int(params[k]) for k in ("percent_off", "amount_off", "duration_in_months",
                                               "max_redemptions") if params.get(k)}  # fmt: skip
        return self.put({"id": coupon_id, "object": "coupon", "created": int(_now()), "valid": True,
                         "duration": params.get("duration", "once"), "currency": params.get("currency"),
                         "name": params.get("name"), **number})  # fmt: skip

    def _update_subscription(self, sub: dict, params: dict[str, str]) -> dict:
        """What a save offer or a cancel at period end changes on a subscription."""
        if params.get("cancel_at_period_end") == "true":
            item = sub["items"]["data"][0]
            sub.update(cancel_at_period_end=True, cancel_at=item["current_period_end"],
                       canceled_at=int(_now()))  # fmt: skip
            _cancellation_details(sub, params)
        if "pause_collection[behavior]" in params:
            sub["pause_collection"] = {
                "behavior": params["pause_collection[behavior]"],
                "resumes_at": int(params.get("pause_collection[resumes_at]") or 0) or None,
            }
        coupons = [
            v for k, v in sorted(params.items()) if k.startswith("discounts[") and k.endswith("[coupon]")
        ]
        if coupons:
            sub["discounts"] = [
                {"id": self.new_id("di"), "object": "discount", "subscription": sub["id"],
                 "source": {"type": "coupon", "coupon": self.objects.get(c, {"id": c})}, "start": int(_now())}
                for c in coupons
            ]  # fmt: skip
        if params.get("default_payment_method"):
            sub["default_payment_method"] = params["default_payment_method"]
        if "items[0][price]" in params and params["items[0][price]"] in self.objects:
            sub["items"]["data"][0]["price"] = self.objects[params["items[0][price]"]]
        return sub

    def _default_card(self, invoice: dict) -> str | None:
        sub = self.objects.get(
            (invoice.get("parent") or {}).get("subscription_details", {}).get("subscription", "")
        )
        customer = self.objects.get(invoice["customer"]) or {}
        return (sub or {}).get("default_payment_method") or (customer.get("invoice_settings") or {}).get(
            "default_payment_method"
        )

    def confirm_setup_intent(self, intent_id: str, client_secret: str, test_card: str) -> tuple[int, dict]:
        """What Stripe answers Stripe.js's confirm with a test card: the demo card form's call."""
        with self.lock:
            intent = self.objects.get(intent_id)
            if (
                not intent
                or intent.get("object") != "setup_intent"
                or not hmac.compare_digest(intent["client_secret"], client_secret or "")
            ):
                return 404, {"error": {"type": "invalid_request_error", "code": "resource_missing",
                                       "message": "No such setupintent: the card form is out of date; reload the page."}}  # fmt: skip
            if intent["status"] == "succeeded":
                return 200, intent
            card = TEST_CARDS.get(test_card)
            if card is None or card["setup_declines"]:
                error = {"type": "card_error", "code": "card_declined", "decline_code": "generic_decline",
                         "message": "Your card was declined."}  # fmt: skip
                intent["last_setup_error"] = error
                return 402, {"error": error}
            pm = self.put({"id": self.new_id("pm"), "object": "payment_method", "type": "card",
                           "customer": intent["customer"], "created": int(_now()),
                           "card": {"brand": card["brand"], "last4": card["last4"], "exp_month": 12,
                                    "exp_year": datetime.fromtimestamp(_now(), UTC).year + 3}})  # fmt: skip
            self.entered_cards[pm["id"]] = card["declines_with"]
            intent.update(status="succeeded", payment_method=pm["id"], last_setup_error=None)
            return 200, intent

    def advance(self, moment: float) -> None:
        """What Stripe's clock does by ``moment``: subscriptions set to cancel at period end end,
        and pauses whose date came resume."""
        with self.lock:
            for sub in self.of_kind("subscription"):
                if (
                    sub.get("cancel_at_period_end")
                    and sub["status"] != "canceled"
                    and sub["cancel_at"] <= moment
                ):
                    sub.update(status="canceled", ended_at=sub["cancel_at"])
                pause = sub.get("pause_collection")
                if pause and pause.get("resumes_at") and pause["resumes_at"] <= moment:
                    sub["pause_collection"] = None

    def _list(self, kind: str, params: dict[str, str]) -> dict:
        singular = {"customers": "customer", "subscriptions": "subscription", "invoices": "invoice",
                    "prices": "price", "products": "product", "payment_methods": "payment_method",
                    "events": "event"}.get(kind)  # fmt: skip
        data = self.of_kind(singular) if singular else []
        return {"object": "list", "data": data[: int(params.get("limit") or 100)], "has_more": False,
                "url": f"/v1/{kind}"}  # fmt: skip

    def _invoice_payments(self, invoice_id: str) -> dict:
        script = self.scripts.get(invoice_id)
        if not script:
            return {"object": "list", "data": [], "has_more": False}
        error = {"type": "card_error", "code": "card_declined", "decline_code": script["decline_code"],
                 "message": DECLINE_MESSAGES.get(script["decline_code"], "Your card was declined.")}  # fmt: skip
        return {
            "object": "list",
            "has_more": False,
            "data": [{"object": "invoice_payment", "invoice": invoice_id,
                      "payment": {"type": "payment_intent", "payment_intent": {
                          "id": f"pi_{invoice_id}", "object": "payment_intent",
                          "last_payment_error": error}}}],
        }  # fmt: skip

    def _invoice_action(self, invoice: dict, action: str) -> dict:
        if invoice["status"] != "open":
            raise _Error(400, {"type": "invalid_request_error", "code": "invoice_not_editable",
                               "message": f"This invoice is {invoice['status']}."})  # fmt: skip
        if action == "pay":
            script = self.scripts.get(invoice["id"], {})
            invoice["attempt_count"] += 1
            invoice["attempted"] = True
            pays_on = script.get("pays_on_attempt")
            entered = self.entered_cards.get(self._default_card(invoice) or "")
            if entered is not None:  # a card the customer typed into the demo card form decides
                script, pays_on = {"decline_code": entered}, (None if entered else 0)
            if pays_on is None or invoice["attempt_count"] < pays_on:
                code = script.get("decline_code", "generic_decline")
                raise _Error(402, {"type": "card_error", "code": "card_declined", "decline_code": code,
                                   "message": DECLINE_MESSAGES.get(code, "Your card was declined.")})  # fmt: skip
            paid_at = int(_now())
            invoice.update(status="paid", amount_paid=invoice["amount_due"], amount_remaining=0,
                           status_transitions={"paid_at": paid_at}, next_payment_attempt=None)  # fmt: skip
            sub = self.objects.get(
                (invoice.get("parent") or {}).get("subscription_details", {}).get("subscription", "")
            )
            if sub and sub["status"] == "past_due":
                sub["status"] = "active"
            return invoice
        if action == "mark_uncollectible":
            invoice["status"] = "uncollectible"
            return invoice
        if action == "void":
            invoice["status"] = "void"
            return invoice
        raise _missing(action)


def _cancellation_details(sub: dict, params: dict[str, str]) -> None:
    sub["cancellation_details"] = {
        "reason": "cancellation_requested",
        "feedback": params.get("cancellation_details[feedback]"),
        "comment": params.get("cancellation_details[comment]"),
    }


def _now() -> float:
    from backstop import clock

    return clock.now_ts()


class _Error(Exception):
    def __init__(self, status: int, body: dict) -> None:
        super().__init__(body.get("message"))
        self.status = status
        self.body = body


def _missing(what: str) -> _Error:
    return _Error(404, {"type": "invalid_request_error", "code": "resource_missing",
                        "message": f"No such object: '{what}'"})  # fmt: skip


class DemoTransport(stripe.HTTPClient):
    """The ``stripe`` SDK's HTTP client, answered by a ``DemoStripe`` in this process."""

    name = "backstop-demo"

    def __init__(self, account: DemoStripe) -> None:
        super().__init__()
        self.account = account

    def request(self, method, url, headers, post_data=None, *, _usage=None):
        auth = (headers or {}).get("Authorization", "")
        if auth != f"Bearer {DEMO_KEY}":
            body = {
                "error": {
                    "type": "invalid_request_error",
                    "message": "Invalid API Key provided: the demo answers only its own key.",
                }
            }
            return json.dumps(body), 401, {"request-id": "req_demo"}
        parts = urlsplit(url)
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        if post_data:
            text = post_data.decode() if isinstance(post_data, bytes) else str(post_data)
            params.update(parse_qsl(text, keep_blank_values=True))
        status, body = self.account.handle(method, parts.path, params)
        return json.dumps(body), status, {"request-id": "req_demo", "Stripe-Version": "demo"}

    def request_stream(self, method, url, headers, post_data=None, *, _usage=None):
        raise NotImplementedError("The demo stand-in doesn't stream.")

    def close(self) -> None:
        pass


def typed(obj: dict[str, Any]) -> dict[str, Any]:
    """A deep copy, as Stripe would send it over the wire."""
    return json.loads(json.dumps(obj))
