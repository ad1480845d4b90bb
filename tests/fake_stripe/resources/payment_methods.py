"""Payment methods (cards only) and setup intents."""

from __future__ import annotations

from typing import Any

from .. import cards, errors
from ..encoding import as_bool, as_int, metadata_update
from ..router import Ctx, route
from ..shapes import card_details, payment_method, setup_intent
from ..state import Store
from .common import Change


def make_card(
    store: Store,
    *,
    token: str = "pm_card_visa",  # noqa: S107 - a Stripe test card name, not a secret
    decline_code: str | None = None,
    decline_on_attach: bool = False,
    advice_code: str | None = None,
    brand: str | None = None,
    last4: str | None = None,
    exp_month: int = 12,
    exp_year: int | None = None,
    customer: str | None = None,
    default: bool = False,
) -> dict[str, Any]:
    """A card payment method. With `decline_code`, charges to it decline with that code (and, with
    `decline_on_attach`, so does attaching it). `customer`/`default` attach it and make it the
    customer's default for invoices."""
    test = cards.lookup_token(token)
    if test is None:
        raise errors.invalid_request(f"No such PaymentMethod: '{token}'", param="payment_method")
    year = exp_year or (store.state.clock.now() // 31_557_600 + 1970 + 3)
    fingerprint = store.state.ids.token(16)
    details = card_details(
        brand or test.brand, last4 or test.last4, exp_month, year, test.funding, fingerprint
    )
    pm = store.put(payment_method(store.new_id("pm"), store.now(), store.livemode, details))
    code = decline_code if decline_code is not None else test.decline_code
    if code:
        store.state.card_declines[pm["id"]] = {
            **cards.decline(code, advice_code),
            "on_attach": decline_on_attach if decline_code is not None else test.declines_on_attach,
        }
    if customer:
        attach(store, pm["id"], customer)
        if default:
            from .customers import update_customer

            cus = store.get("customer", customer)
            update_customer(store, cus, {"invoice_settings": {"default_payment_method": pm["id"]}})
    return pm


def set_card_decline(
    store: Store, pm_id: str, decline_code: str | None, advice_code: str | None = None
) -> None:
    """Change how an existing card behaves from now on (None: it pays)."""
    store.get("payment_method", pm_id)
    if decline_code is None:
        store.state.card_declines.pop(pm_id, None)
    else:
        store.state.card_declines[pm_id] = {**cards.decline(decline_code, advice_code), "on_attach": False}


def resolve(store: Store, pm_id: str, param: str = "payment_method") -> dict[str, Any]:
    """A payment method by id, or a fresh one from a test token such as `pm_card_visa`."""
    if cards.lookup_token(pm_id) is not None:
        return make_card(store, token=pm_id)
    pm = store.find(pm_id)
    if pm is None or pm["object"] != "payment_method":
        raise errors.no_such("PaymentMethod", pm_id, param)
    return pm


def attach_decline(store: Store, pm: dict[str, Any]) -> dict[str, Any] | None:
    behaviour = store.state.card_declines.get(pm["id"])
    return behaviour if behaviour and behaviour["on_attach"] else None


def attach(store: Store, pm_id: str, customer_id: str, param: str = "payment_method") -> dict[str, Any]:
    pm = resolve(store, pm_id, param)
    store.get("customer", customer_id, "customer")
    if pm["customer"] == customer_id:
        return pm
    if pm["customer"] is not None:
        raise errors.invalid_request(
            "The payment method you provided has already been attached to a customer.",
            param=param,
            code="payment_method_unexpected_state",
        )
    declined = attach_decline(store, pm)
    if declined:
        raise errors.card_error(declined["code"], declined["decline_code"], declined["message"], param="")
    with Change(store, pm, "payment_method.attached"):
        pm["customer"] = customer_id
    return pm


def detach(store: Store, pm: dict[str, Any]) -> dict[str, Any]:
    if pm["customer"] is None:
        raise errors.invalid_request(
            "The payment method you provided is not attached to a customer so detachment is impossible.",
            code="payment_method_unexpected_state",
        )
    cus = store.find(pm["customer"])
    with Change(store, pm, "payment_method.detached"):
        pm["customer"] = None
    if cus and cus["invoice_settings"]["default_payment_method"] == pm["id"]:
        with Change(store, cus, "customer.updated"):
            cus["invoice_settings"]["default_payment_method"] = None
    return pm


@route("POST", "/v1/payment_methods", "payment_method")
def create(ctx: Ctx) -> dict:
    ctx.allow("type", "card", "billing_details", "metadata", "customer", "payment_method", "allow_redisplay")
    if ctx.params.get("type", "card") != "card":
        raise errors.invalid_request("The fake only models card payment methods.", param="type")
    card = ctx.params.get("card") or {}
    token = "pm_card_visa"
    if isinstance(card, dict) and card.get("token"):
        token = card["token"]
    elif isinstance(card, dict) and card.get("number"):
        test = cards.NUMBERS.get(str(card["number"]).replace(" ", ""))
        if test is None:
            raise errors.card_error(
                "incorrect_number", None, "Your card number is incorrect.", param="card[number]"
            )
        token = next(name for name, known in cards.TOKENS.items() if known == test and name.startswith("pm_"))
    pm = make_card(
        ctx.store,
        token=token,
        exp_month=as_int(card.get("exp_month", 12), "card[exp_month]") if isinstance(card, dict) else 12,
        exp_year=as_int(card["exp_year"], "card[exp_year]")
        if isinstance(card, dict) and card.get("exp_year")
        else None,
    )
    _update_fields(pm, ctx.params)
    return ctx.render(pm)


def _update_fields(pm: dict[str, Any], params: dict[str, Any]) -> None:
    if "metadata" in params:
        pm["metadata"] = metadata_update(pm["metadata"], params["metadata"])
    details = params.get("billing_details")
    if isinstance(details, dict):
        for key in ("email", "name", "phone"):
            if key in details:
                pm["billing_details"][key] = details[key] or None
        if isinstance(details.get("address"), dict):
            pm["billing_details"]["address"].update(details["address"])


@route("GET", "/v1/payment_methods/{id}", "payment_method")
def retrieve(ctx: Ctx) -> dict:
    return ctx.render(resolve(ctx.store, ctx.path["id"], "id"))


@route("POST", "/v1/payment_methods/{id}", "payment_method")
def update(ctx: Ctx) -> dict:
    ctx.allow("metadata", "billing_details", "card", "allow_redisplay")
    pm = ctx.store.get("payment_method", ctx.path["id"])
    event = "payment_method.updated" if pm["customer"] else None
    with Change(ctx.store, pm, event):
        _update_fields(pm, ctx.params)
        card = ctx.params.get("card")
        if isinstance(card, dict):
            for key in ("exp_month", "exp_year"):
                if key in card:
                    pm["card"][key] = as_int(card[key], f"card[{key}]")
    return ctx.render(pm)


@route("POST", "/v1/payment_methods/{id}/attach", "payment_method")
def attach_route(ctx: Ctx) -> dict:
    ctx.allow("customer")
    return ctx.render(attach(ctx.store, ctx.path["id"], ctx.require("customer")))


@route("POST", "/v1/payment_methods/{id}/detach", "payment_method")
def detach_route(ctx: Ctx) -> dict:
    ctx.allow()
    return ctx.render(detach(ctx.store, ctx.store.get("payment_method", ctx.path["id"])))


@route("GET", "/v1/payment_methods", "payment_method")
def list_payment_methods(ctx: Ctx) -> dict:
    ctx.allow("limit", "starting_after", "ending_before", "customer", "type")
    customer, kind = ctx.params.get("customer"), ctx.params.get("type")
    rows = (
        pm
        for pm in ctx.store.all("payment_method")
        if (customer is None or pm["customer"] == customer) and (kind is None or pm["type"] == kind)
    )
    return ctx.list(rows)


# --- setup intents ---------------------------------------------------------------------------

SETUP_FIELDS = ("customer", "payment_method", "usage", "payment_method_types", "metadata", "description")


def create_setup_intent(store: Store, params: dict[str, Any]) -> dict[str, Any]:
    sid = store.new_id("seti")
    seti = setup_intent(sid, store.now(), store.livemode, f"{sid}_secret_{store.state.ids.token(24)}")
    _apply_setup(store, seti, params)
    store.put(seti)
    store.emit("setup_intent.created", seti)
    if as_bool(params.get("confirm", False), "confirm"):
        confirm_setup_intent(store, seti, {})
    return seti


def _apply_setup(store: Store, seti: dict[str, Any], params: dict[str, Any]) -> None:
    if params.get("customer"):
        seti["customer"] = store.get("customer", params["customer"], "customer")["id"]
    if params.get("payment_method"):
        seti["payment_method"] = resolve(store, params["payment_method"])["id"]
        seti["status"] = "requires_confirmation"
    for key in ("usage", "description"):
        if key in params:
            seti[key] = params[key] or None
    if "payment_method_types" in params:
        seti["payment_method_types"] = list(params["payment_method_types"])
    if "metadata" in params:
        seti["metadata"] = metadata_update(seti["metadata"], params["metadata"])


def confirm_setup_intent(store: Store, seti: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """What Stripe.js does when the customer submits a card: succeed (and attach) or record the decline."""
    if seti["status"] in ("succeeded", "canceled"):
        raise errors.invalid_request(
            f"You cannot confirm this SetupIntent because it has a status of {seti['status']}.",
            code="setup_intent_unexpected_state",
        )
    if params.get("payment_method"):
        seti["payment_method"] = resolve(store, params["payment_method"])["id"]
    if not seti["payment_method"]:
        raise errors.invalid_request(
            "You cannot confirm this SetupIntent because it's missing a payment method.",
            code="setup_intent_unexpected_state",
        )
    pm = store.get("payment_method", seti["payment_method"], "payment_method")
    declined = attach_decline(store, pm)
    if declined:
        with Change(store, seti, "setup_intent.setup_failed"):
            seti["status"] = "requires_payment_method"
            seti["payment_method"] = None
            seti["last_setup_error"] = {
                "code": declined["code"],
                "decline_code": declined["decline_code"],
                "doc_url": f"{errors.DOCS}/{declined['code']}",
                "message": declined["message"],
                "payment_method": dict(pm),
                "type": "card_error",
            }
        err = errors.card_error(declined["code"], declined["decline_code"], declined["message"])
        err.body["error"]["setup_intent"] = dict(seti)
        raise err
    if seti["customer"]:
        attach(store, pm["id"], seti["customer"])
    with Change(store, seti, None):
        seti["status"] = "succeeded"
        seti["last_setup_error"] = None
        seti["latest_attempt"] = store.new_id("setatt")
    store.emit("setup_intent.succeeded", seti)
    return seti


@route("POST", "/v1/setup_intents", "setup_intent")
def create_seti(ctx: Ctx) -> dict:
    ctx.allow("confirm", "return_url", "automatic_payment_methods", "on_behalf_of", *SETUP_FIELDS)
    return ctx.render(create_setup_intent(ctx.store, ctx.params))


@route("GET", "/v1/setup_intents/{id}", "setup_intent", publishable=True)
def retrieve_seti(ctx: Ctx) -> dict:
    seti = ctx.store.get("setup_intent", ctx.path["id"])
    _check_client_secret(ctx, seti)
    return ctx.render(seti)


@route("POST", "/v1/setup_intents/{id}", "setup_intent")
def update_seti(ctx: Ctx) -> dict:
    ctx.allow(*SETUP_FIELDS)
    seti = ctx.store.get("setup_intent", ctx.path["id"])
    _apply_setup(ctx.store, seti, ctx.params)
    return ctx.render(seti)


@route("POST", "/v1/setup_intents/{id}/confirm", "setup_intent", publishable=True)
def confirm_seti(ctx: Ctx) -> dict:
    ctx.allow("payment_method", "return_url", "client_secret", "mandate_data", "use_stripe_sdk")
    seti = ctx.store.get("setup_intent", ctx.path["id"])
    _check_client_secret(ctx, seti)
    return ctx.render(confirm_setup_intent(ctx.store, seti, ctx.params))


@route("POST", "/v1/setup_intents/{id}/cancel", "setup_intent")
def cancel_seti(ctx: Ctx) -> dict:
    ctx.allow("cancellation_reason")
    seti = ctx.store.get("setup_intent", ctx.path["id"])
    with Change(ctx.store, seti, None):
        seti["status"] = "canceled"
        seti["cancellation_reason"] = ctx.params.get("cancellation_reason")
    ctx.store.emit("setup_intent.canceled", seti)
    return ctx.render(seti)


@route("GET", "/v1/setup_intents", "setup_intent")
def list_setis(ctx: Ctx) -> dict:
    ctx.allow("limit", "starting_after", "ending_before", "customer", "payment_method", "created")
    customer = ctx.params.get("customer")
    rows = (s for s in ctx.store.all("setup_intent") if customer is None or s["customer"] == customer)
    return ctx.list(rows)


def _check_client_secret(ctx: Ctx, seti: dict[str, Any]) -> None:
    """Publishable keys (the browser) must prove they hold the intent's client secret."""
    publishable = ctx.key is not None and ctx.key.kind == "publishable"
    if publishable and ctx.params.get("client_secret") != seti["client_secret"]:
        raise errors.invalid_request(
            "The client_secret provided does not match any associated SetupIntent on this account.",
            param="client_secret",
        )
