"""Events, webhook endpoints and customer-portal configurations."""

from __future__ import annotations

import fnmatch
from typing import Any

from .. import errors
from ..encoding import as_bool, as_list, metadata_update
from ..render import created_filter
from ..router import Ctx, route
from ..shapes import deleted
from ..shapes_account import portal_configuration, webhook_endpoint
from ..state import Store
from .common import Change

EVENT_RETENTION = 30 * 86_400  # `GET /v1/events` only reaches back 30 days


@route("GET", "/v1/events", "event")
def list_events(ctx: Ctx) -> dict:
    ctx.allow("limit", "starting_after", "ending_before", "type", "types", "created", "delivery_success")
    params = ctx.params
    types = as_list(params.get("types"), "types")
    if params.get("type") and types:
        raise errors.invalid_request(
            "You may only specify one of these parameters: type, types.", param="types"
        )
    patterns = types or ([params["type"]] if params.get("type") else [])
    keep = created_filter(params)
    oldest = ctx.store.now() - EVENT_RETENTION

    def wanted(ev: dict[str, Any]) -> bool:
        recent = ev["created"] >= oldest
        return (
            recent
            and keep(ev)
            and (not patterns or any(fnmatch.fnmatchcase(ev["type"], p) for p in patterns))
        )

    return ctx.list(e for e in ctx.store.all("event") if wanted(e))


@route("GET", "/v1/events/{id}", "event")
def retrieve_event(ctx: Ctx) -> dict:
    return ctx.render(ctx.store.get("event", ctx.path["id"]))


# --- webhook endpoints -----------------------------------------------------------------------


def create_endpoint(
    store: Store, url: str, enabled_events: list[str], *, connect: bool = False, secret: str | None = None
) -> tuple[dict[str, Any], str]:
    """Register where events go. Returns the endpoint and its signing secret (`whsec_…`)."""
    if not enabled_events:
        raise errors.missing_param("enabled_events")
    we = webhook_endpoint(store.new_id("we"), store.now(), store.livemode, url, list(enabled_events))
    store.put(we)
    secret = secret or f"whsec_{store.state.ids.token(32)}"
    store.state.endpoint_secrets[we["id"]] = secret
    store.state.endpoint_connect[we["id"]] = connect
    return we, secret


@route("POST", "/v1/webhook_endpoints", "webhook_endpoint")
def create_endpoint_route(ctx: Ctx) -> dict:
    ctx.allow("url", "enabled_events", "connect", "description", "metadata", "api_version")
    we, secret = create_endpoint(
        ctx.store,
        ctx.require("url"),
        [str(e) for e in as_list(ctx.params.get("enabled_events"), "enabled_events")],
        connect=as_bool(ctx.params.get("connect", False), "connect"),
    )
    _apply_endpoint(we, ctx.params)
    body = ctx.render(we)
    body["secret"] = secret  # only the creating response carries the secret, as in Stripe
    return body


def _apply_endpoint(we: dict[str, Any], params: dict[str, Any]) -> None:
    for key in ("description", "api_version", "url"):
        if key in params:
            we[key] = params[key] or None
    if "enabled_events" in params:
        we["enabled_events"] = [str(e) for e in as_list(params["enabled_events"], "enabled_events")]
    if "disabled" in params:
        we["status"] = "disabled" if as_bool(params["disabled"], "disabled") else "enabled"
    if "metadata" in params:
        we["metadata"] = metadata_update(we["metadata"], params["metadata"])


@route("GET", "/v1/webhook_endpoints/{id}", "webhook_endpoint")
def retrieve_endpoint(ctx: Ctx) -> dict:
    return ctx.render(ctx.store.get("webhook_endpoint", ctx.path["id"]))


@route("POST", "/v1/webhook_endpoints/{id}", "webhook_endpoint")
def update_endpoint(ctx: Ctx) -> dict:
    ctx.allow("url", "enabled_events", "disabled", "description", "metadata")
    we = ctx.store.get("webhook_endpoint", ctx.path["id"])
    _apply_endpoint(we, ctx.params)
    return ctx.render(we)


@route("DELETE", "/v1/webhook_endpoints/{id}", "webhook_endpoint")
def delete_endpoint(ctx: Ctx) -> dict:
    we = ctx.store.get("webhook_endpoint", ctx.path["id"])
    ctx.store.remove(we)
    return deleted("webhook_endpoint", we["id"])


@route("GET", "/v1/webhook_endpoints", "webhook_endpoint")
def list_endpoints(ctx: Ctx) -> dict:
    ctx.allow("limit", "starting_after", "ending_before")
    return ctx.list(ctx.store.all("webhook_endpoint"))


# --- customer portal -------------------------------------------------------------------------


def create_portal_configuration(store: Store, params: dict[str, Any]) -> dict[str, Any]:
    bpc = portal_configuration(store.new_id("bpc"), store.now(), store.livemode)
    bpc["is_default"] = not any(True for _ in store.all("billing_portal.configuration"))
    _apply_portal(bpc, params)
    store.put(bpc)
    store.emit("billing_portal.configuration.created", bpc)
    return bpc


def _apply_portal(bpc: dict[str, Any], params: dict[str, Any]) -> None:
    features = params.get("features")
    if isinstance(features, dict):
        _merge(bpc["features"], features, "features")
    if isinstance(params.get("business_profile"), dict):
        bpc["business_profile"].update(params["business_profile"])
    for key in ("default_return_url", "name"):
        if key in params:
            bpc[key] = params[key] or None
    if "active" in params:
        bpc["active"] = as_bool(params["active"], "active")
    if "metadata" in params:
        bpc["metadata"] = metadata_update(bpc["metadata"], params["metadata"])


def _merge(target: dict[str, Any], updates: dict[str, Any], path: str) -> None:
    for key, value in updates.items():
        if key not in target:
            raise errors.unknown_param(f"{path}[{key}]")
        if isinstance(target[key], dict) and isinstance(value, dict):
            _merge(target[key], value, f"{path}[{key}]")
        elif isinstance(target[key], bool):
            target[key] = as_bool(value, f"{path}[{key}]")
        else:
            target[key] = value


@route("POST", "/v1/billing_portal/configurations", "billing_portal")
def create_portal(ctx: Ctx) -> dict:
    ctx.allow("features", "business_profile", "default_return_url", "metadata", "name", "login_page")
    return ctx.render(create_portal_configuration(ctx.store, ctx.params))


@route("GET", "/v1/billing_portal/configurations/{id}", "billing_portal")
def retrieve_portal(ctx: Ctx) -> dict:
    return ctx.render(ctx.store.get("billing_portal.configuration", ctx.path["id"]))


@route("POST", "/v1/billing_portal/configurations/{id}", "billing_portal")
def update_portal(ctx: Ctx) -> dict:
    ctx.allow(
        "features", "business_profile", "default_return_url", "metadata", "name", "active", "login_page"
    )
    bpc = ctx.store.get("billing_portal.configuration", ctx.path["id"])
    with Change(ctx.store, bpc, "billing_portal.configuration.updated"):
        _apply_portal(bpc, ctx.params)
        bpc["updated"] = ctx.store.now()
    return ctx.render(bpc)


@route("GET", "/v1/billing_portal/configurations", "billing_portal")
def list_portals(ctx: Ctx) -> dict:
    ctx.allow("limit", "starting_after", "ending_before", "active", "is_default")
    params = ctx.params
    active = as_bool(params["active"], "active") if "active" in params else None
    default = as_bool(params["is_default"], "is_default") if "is_default" in params else None
    rows = (
        c
        for c in ctx.store.all("billing_portal.configuration")
        if active in (None, c["active"]) and default in (None, c["is_default"])
    )
    return ctx.list(rows)


@route("POST", "/v1/billing_portal/sessions", "billing_portal")
def create_portal_session(ctx: Ctx) -> dict:
    ctx.allow("customer", "return_url", "configuration", "flow_data", "locale", "on_behalf_of")
    store = ctx.store
    cus = store.get("customer", ctx.require("customer"), "customer")
    configs = [c for c in store.all("billing_portal.configuration") if c["is_default"]]
    config = ctx.params.get("configuration") or (configs[0]["id"] if configs else None)
    if config is None:
        raise errors.invalid_request(
            "No configuration provided and your test mode default configuration has not been created. "
            "Provide a configuration or create your default by saving your customer portal settings in test "
            "mode at https://dashboard.stripe.com/test/settings/billing/portal."
        )
    sid = store.new_id("bps")
    return {
        "id": sid,
        "object": "billing_portal.session",
        "configuration": config,
        "created": store.now(),
        "customer": cus["id"],
        "customer_account": None,
        "flow": None,
        "livemode": store.livemode,
        "locale": ctx.params.get("locale"),
        "on_behalf_of": None,
        "return_url": ctx.params.get("return_url"),
        "url": f"{ctx.base_url}/p/session/{sid}",
    }
