"""The billing engine: subscription invoices, finalization, payment attempts, and their outcomes.

A payment attempt makes one charge on the invoice's payment intent. A decline records what Stripe
records: the charge (`failure_code`, `outcome.reason` = decline code), the payment intent's
`last_payment_error` (`code`, `decline_code`, `advice_code`), the invoice's `attempt_count` and
`next_payment_attempt`, and the events `charge.failed`, `payment_intent.payment_failed` and
`invoice.payment_failed`. The invoice links to its payment intent through `invoice_payment`
objects (`invoice.payments` when expanded, or `GET /v1/invoice_payments?invoice=`).
"""

from __future__ import annotations

from typing import Any

from .. import errors
from ..clock import DAY
from ..shapes_billing import charge, invoice, invoice_payment, line_item, payment_intent, subscription_parent
from ..state import Store
from .common import Change

NETWORK_DECLINE_CODES = {
    "generic_decline": "05",
    "do_not_honor": "05",
    "insufficient_funds": "51",
    "lost_card": "41",
    "stolen_card": "43",
    "pickup_card": "04",
    "expired_card": "54",
    "incorrect_cvc": "N7",
    "transaction_not_allowed": "57",
}


def money(amount: int, currency: str) -> str:
    if currency == "usd":
        return f"${amount / 100:,.2f}"
    return f"{amount / 100:,.2f} {currency.upper()}"


def active_discounts(store: Store, sub: dict[str, Any], cus: dict[str, Any]) -> list[dict[str, Any]]:
    now = store.now()
    ids = list(sub["discounts"])
    if not ids and cus.get("discount"):
        ids = [cus["discount"]["id"]]
    found = [store.find(i) for i in ids]
    return [d for d in found if d is not None and (d["end"] is None or d["end"] > now)]


def _apply_discounts(store: Store, inv: dict[str, Any], discounts: list[dict[str, Any]]) -> None:
    remaining = inv["subtotal"]
    for d in discounts:
        c = store.find(d["source"]["coupon"])
        if c is None or remaining <= 0:
            continue
        if c["percent_off"] is not None:
            amount = round(inv["subtotal"] * c["percent_off"] / 100)
        else:
            amount = c["amount_off"] if c["currency"] == inv["currency"] else 0
        amount = min(amount, remaining)
        remaining -= amount
        inv["discounts"].append(d["id"])
        inv["total_discount_amounts"].append({"amount": amount, "discount": d["id"]})
        _spread(inv["lines"]["data"], d["id"], amount, inv["subtotal"])
    inv["total"] = inv["total_excluding_tax"] = remaining


def _spread(lines: list[dict[str, Any]], discount_id: str, amount: int, subtotal: int) -> None:
    left = amount
    for index, line in enumerate(lines):
        share = (
            left if index == len(lines) - 1 else round(amount * line["amount"] / subtotal) if subtotal else 0
        )
        left -= share
        line["discounts"].append(discount_id)
        line["discount_amounts"].append({"amount": share, "discount": discount_id})


def _spend_once_discounts(store: Store, sub: dict[str, Any], used: list[dict[str, Any]]) -> None:
    """A `once` coupon is used up by the invoice it discounts, and leaves the subscription."""
    spent = [d for d in used if (c := store.find(d["source"]["coupon"])) and c["duration"] == "once"]
    if not spent:
        return
    with Change(store, sub, "customer.subscription.updated"):
        sub["discounts"] = [i for i in sub["discounts"] if i not in {d["id"] for d in spent}]
    for d in spent:
        d["end"] = store.now()
        store.emit("customer.discount.deleted", d)


def subscription_invoice(
    store: Store, sub: dict[str, Any], reason: str, period: tuple[int, int], *, trial: bool = False
) -> dict[str, Any]:
    """A draft invoice for the subscription's items over `period`, discounts applied (invoice.created)."""
    now = store.now()
    cus = store.get("customer", sub["customer"])
    inv = invoice(store.new_id("in"), now, store.livemode, cus, sub["currency"])
    inv.update(
        billing_reason=reason,
        collection_method=sub["collection_method"],
        parent=subscription_parent(sub),
        webhooks_delivered_at=now,
        automatically_finalizes_at=now + 3600,
    )
    if reason == "subscription_cycle":
        inv["period_start"] = sub["items"]["data"][0]["current_period_start"] if sub["items"]["data"] else now
        inv["period_end"] = now
    for item in sub["items"]["data"]:
        p = item["price"]
        name = store.find(p["product"])["name"] if store.find(p["product"]) else p["product"]
        amount = 0 if trial else p["unit_amount"] * item["quantity"]
        interval = (p["recurring"] or {}).get("interval", "month")
        desc = (
            f"Trial period for {name}"
            if trial
            else f"{item['quantity']} × {name} (at {money(p['unit_amount'], p['currency'])} / {interval})"
        )
        inv["lines"]["data"].append(
            line_item(
                store.new_id("il"),
                inv["id"],
                store.livemode,
                amount=amount,
                currency=p["currency"],
                description=desc,
                period=period,
                quantity=item["quantity"],
                price=p,
                sub_id=sub["id"],
                item_id=item["id"],
            )
        )
    inv["subtotal"] = inv["subtotal_excluding_tax"] = sum(line["amount"] for line in inv["lines"]["data"])
    inv["total"] = inv["total_excluding_tax"] = inv["subtotal"]
    used = active_discounts(store, sub, cus) if inv["subtotal"] else []
    _apply_discounts(store, inv, used)
    inv["amount_due"] = inv["amount_remaining"] = inv["total"]
    store.put(inv)
    store.emit("invoice.created", inv)
    if used:
        _spend_once_discounts(store, sub, used)
    return inv


def finalize(store: Store, inv: dict[str, Any]) -> dict[str, Any]:
    if inv["status"] != "draft":
        raise errors.invalid_request(
            f"This invoice is already finalized, you can't re-finalize a non-draft invoice. ({inv['id']})",
            code="invoice_not_editable",
        )
    now = store.now()
    cus = store.find(inv["customer"])
    with Change(store, inv, None):
        inv["status"] = "open"
        inv["status_transitions"]["finalized_at"] = now
        inv["effective_at"] = now
        inv["automatically_finalizes_at"] = None
        if cus is not None:
            inv["number"] = f"{cus['invoice_prefix']}-{cus['next_invoice_sequence']:04d}"
            cus["next_invoice_sequence"] += 1
        token = store.state.ids.token(40)
        inv["hosted_invoice_url"] = f"https://invoice.stripe.com/i/{store.account}/test_{token}"
        inv["invoice_pdf"] = f"https://pay.stripe.com/invoice/{store.account}/test_{token}/pdf"
        if inv["amount_due"] > 0 and inv["collection_method"] == "charge_automatically":
            _open_payment(store, inv)
            inv["next_payment_attempt"] = next_attempt(store, inv, now)
    store.emit("invoice.finalized", inv)
    if inv["amount_due"] == 0:
        _mark_paid(store, inv, None)
    return inv


def _open_payment(store: Store, inv: dict[str, Any]) -> None:
    pid = store.new_id("pi")
    pi = payment_intent(
        pid,
        store.now(),
        store.livemode,
        inv["amount_due"],
        inv["currency"],
        inv["customer"],
        f"{pid}_secret_{store.state.ids.token(24)}",
    )
    store.put(pi)
    store.put(invoice_payment(store.new_id("inpay"), store.now(), store.livemode, inv, pid))


def payment_for(store: Store, inv: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    for ip in store.all("invoice_payment"):
        if ip["invoice"] == inv["id"] and ip["is_default"]:
            return ip, store.find(ip["payment"]["payment_intent"])
    return None, None


def default_payment_method(store: Store, inv: dict[str, Any]) -> str | None:
    """Stripe's order: invoice → subscription → customer's invoice settings."""
    if inv["default_payment_method"]:
        return inv["default_payment_method"]
    parent = inv.get("parent") or {}
    sub = store.find((parent.get("subscription_details") or {}).get("subscription"))
    if sub and sub["default_payment_method"]:
        return sub["default_payment_method"]
    cus = store.find(inv["customer"])
    return cus["invoice_settings"]["default_payment_method"] if cus else None


def attempt_payment(
    store: Store, inv: dict[str, Any], pm_id: str | None = None, *, manual: bool = False
) -> dict | None:
    """Charge an open invoice. Returns None when paid, or the decline (code, decline_code, message…)."""
    if inv["status"] == "draft":
        finalize(store, inv)
        if inv["status"] == "paid":
            return None
    if inv["status"] not in ("open", "uncollectible"):
        raise errors.invalid_request("Invoice is already paid.", code="invoice_already_paid")
    pm_id = pm_id or default_payment_method(store, inv)
    if pm_id is None and manual:
        raise errors.invalid_request(
            "This customer has no attached payment source or default payment method. Please consider adding "
            "a default payment method.",
            code="invoice_no_customer_payment_method",
        )
    ip, pi = payment_for(store, inv)
    if pi is None:
        _open_payment(store, inv)
        ip, pi = payment_for(store, inv)
    assert ip is not None and pi is not None
    if pm_id is None:
        return _failed(
            store, inv, pi, None, {"code": None, "decline_code": None, "message": "no payment method"}
        )
    pm = store.get("payment_method", pm_id, "payment_method")
    ch = store.put(charge(store.new_id("ch"), store.now(), store.livemode, pi, pm))
    declined = store.state.card_declines.get(pm["id"])
    if declined:
        ch.update(
            status="failed",
            failure_code=declined["code"],
            failure_message=declined["message"],
            outcome=_outcome(declined),
        )
        return _failed(store, inv, pi, ch, declined)
    ch.update(
        status="succeeded", paid=True, captured=True, amount_captured=ch["amount"], outcome=_outcome(None)
    )
    ch["balance_transaction"] = store.new_id("txn")
    ch["receipt_url"] = f"https://pay.stripe.com/receipts/payment/{store.state.ids.token(40)}"
    store.emit("charge.succeeded", ch)
    with Change(store, pi, None):
        pi.update(
            status="succeeded", payment_method=pm["id"], latest_charge=ch["id"], last_payment_error=None
        )
        pi["amount_received"] = pi["amount"]
    store.emit("payment_intent.succeeded", pi)
    _mark_paid(store, inv, ip)
    return None


def _outcome(declined: dict[str, Any] | None) -> dict[str, Any]:
    if declined is None:
        return {
            "advice_code": None,
            "network_advice_code": None,
            "network_decline_code": None,
            "network_status": "approved_by_network",
            "reason": None,
            "risk_level": "normal",
            "risk_score": 20,
            "seller_message": "Payment complete.",
            "type": "authorized",
        }
    code = declined["decline_code"]
    return {
        "advice_code": declined["advice_code"],
        "network_advice_code": None,
        "network_decline_code": NETWORK_DECLINE_CODES.get(code),
        "network_status": "declined_by_network",
        "reason": code,
        "risk_level": "normal",
        "risk_score": 20,
        "seller_message": f"The bank returned the decline code `{code}`.",
        "type": "issuer_declined",
    }


def _failed(
    store: Store, inv: dict[str, Any], pi: dict[str, Any], ch: dict[str, Any] | None, declined: dict[str, Any]
) -> dict[str, Any]:
    now = store.now()
    if ch is not None:
        store.emit("charge.failed", ch)
        pm = store.find(ch["payment_method"])
        with Change(store, pi, None):
            pi.update(status="requires_payment_method", latest_charge=ch["id"], payment_method=None)
            pi["last_payment_error"] = {
                "advice_code": declined["advice_code"],
                "charge": ch["id"],
                "code": declined["code"],
                "decline_code": declined["decline_code"],
                "doc_url": f"{errors.DOCS}/{declined['code']}",
                "message": declined["message"],
                "network_advice_code": None,
                "network_decline_code": NETWORK_DECLINE_CODES.get(declined["decline_code"]),
                "payment_method": dict(pm) if pm else None,
                "type": "card_error",
            }
        store.emit("payment_intent.payment_failed", pi)
    with Change(store, inv, None):
        inv["attempted"] = True
        inv["attempt_count"] += 1
        inv["next_payment_attempt"] = next_attempt(store, inv, now)
    store.emit("invoice.payment_failed", inv)
    cus = store.find(inv["customer"])
    if cus is not None and not cus["delinquent"]:
        with Change(store, cus, "customer.updated"):
            cus["delinquent"] = True
    sub = subscription_of(store, inv)
    if sub is not None:
        from .lifecycle import after_failed_payment

        after_failed_payment(store, sub, inv)
    return {**declined, "charge": ch["id"] if ch else None, "payment_intent": pi}


def next_attempt(store: Store, inv: dict[str, Any], since: int) -> int | None:
    """Automatic collection's next try, or None when Backstop has taken over (auto_advance false)."""
    schedule = store.state.billing.retry_days
    if not inv["auto_advance"] or inv["status"] != "open" or inv["attempt_count"] > len(schedule):
        return None
    if inv["billing_reason"] == "subscription_create":
        return None  # a first invoice is not retried: the subscription stays incomplete, then expires
    if inv["attempt_count"] == 0:
        return since
    return since + schedule[inv["attempt_count"] - 1] * DAY


def _mark_paid(store: Store, inv: dict[str, Any], ip: dict[str, Any] | None) -> None:
    now = store.now()
    with Change(store, inv, None):
        inv["status"] = "paid"
        inv["amount_paid"] = inv["amount_due"]
        inv["amount_remaining"] = 0
        inv["attempted"] = True
        if inv["amount_due"] > 0:
            inv["attempt_count"] += 1
        inv["next_payment_attempt"] = None
        inv["status_transitions"]["paid_at"] = now
    if ip is not None:
        ip.update(status="paid", amount_paid=inv["amount_paid"])
        ip["status_transitions"]["paid_at"] = now
    store.emit("invoice.paid", inv)
    store.emit("invoice.payment_succeeded", inv)
    cus = store.find(inv["customer"])
    if cus is not None and cus["delinquent"]:
        with Change(store, cus, "customer.updated"):
            cus["delinquent"] = False
    sub = subscription_of(store, inv)
    if sub is not None:
        from .lifecycle import after_paid

        after_paid(store, sub, inv)


def subscription_of(store: Store, inv: dict[str, Any]) -> dict[str, Any] | None:
    details = (inv.get("parent") or {}).get("subscription_details") or {}
    return store.find(details.get("subscription"))


def void(store: Store, inv: dict[str, Any]) -> dict[str, Any]:
    if inv["status"] not in ("open", "uncollectible"):
        raise errors.invalid_request(
            f"You can only void invoices that are open or uncollectible. This invoice is {inv['status']}.",
            code="invoice_not_editable" if inv["status"] == "draft" else None,
        )
    with Change(store, inv, None):
        inv["status"] = "void"
        inv["status_transitions"]["voided_at"] = store.now()
        inv["next_payment_attempt"] = None
        inv["auto_advance"] = False
    ip, pi = payment_for(store, inv)
    if pi is not None and pi["status"] != "succeeded":
        pi.update(status="canceled", canceled_at=store.now(), cancellation_reason="void_invoice")
        if ip is not None:
            ip["status"] = "canceled"
            ip["status_transitions"]["canceled_at"] = store.now()
    store.emit("invoice.voided", inv)
    return inv


def mark_uncollectible(store: Store, inv: dict[str, Any]) -> dict[str, Any]:
    if inv["status"] != "open":
        raise errors.invalid_request(
            f"You can only mark open invoices as uncollectible. This invoice is {inv['status']}."
        )
    with Change(store, inv, None):
        inv["status"] = "uncollectible"
        inv["status_transitions"]["marked_uncollectible_at"] = store.now()
        inv["next_payment_attempt"] = None
    store.emit("invoice.marked_uncollectible", inv)
    return inv
