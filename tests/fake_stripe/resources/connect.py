"""Connect OAuth: authorize (auto-approved), token exchange, deauthorize.

`GET /oauth/authorize` stands in for the founder clicking "Connect" on Stripe's page: it approves at
once and redirects to `redirect_uri` with `code` and `state`. Tests can also mint a code directly
with `authorization_code(...)`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from .. import errors
from ..router import Ctx, route
from ..state import PLATFORM_ACCOUNT, State


def authorization_code(
    state: State,
    account: str | None = None,
    *,
    scope: str = "read_write",
    email: str | None = None,
    name: str | None = None,
) -> tuple[str, str]:
    """An unused OAuth code for `account` (a new connected account if None). Returns (code, account id)."""
    if account is None or account not in state.accounts:
        account = state.create_connected_account(email=email, name=name, account_id=account)
    code = state.ids.new("ac")
    state.oauth_codes[code] = {"account": account, "scope": scope, "used": False}
    return code, account


def deauthorize(state: State, account: str, livemode: bool = False) -> None:
    """The connected account stops trusting the platform: tokens die, and the platform hears about it."""
    connected = state.accounts[account]
    connected.authorized = False
    for secret in state.oauth_keys:
        if state.keys[secret].account == account:
            state.keys[secret].revoked = True
    application = {
        "id": state.client_id,
        "object": "application",
        "name": state.platform_object["settings"]["dashboard"]["display_name"],
    }
    state.store(account, livemode).emit("account.application.deauthorized", application)


@route("GET", "/oauth/authorize", None)
def authorize(ctx: Ctx) -> Any:
    params = ctx.params
    if params.get("client_id") != ctx.state.client_id:
        raise errors.oauth_error("invalid_client", f"No such application: '{params.get('client_id')}'")
    user = params.get("stripe_user") if isinstance(params.get("stripe_user"), dict) else {}
    code, _ = authorization_code(
        ctx.state,
        params.get("stripe_user_id"),
        scope=params.get("scope", "read_only"),
        email=user.get("email"),
        name=user.get("business_name"),
    )
    answer = {"code": code, "scope": params.get("scope", "read_only")}
    if params.get("state") is not None:
        answer["state"] = params["state"]
    if not params.get("redirect_uri"):
        return answer
    sep = "&" if "?" in params["redirect_uri"] else "?"
    return 302, {}, {"Location": params["redirect_uri"] + sep + urlencode(answer)}


@route("POST", "/oauth/token", None)
def token(ctx: Ctx) -> dict:
    state, params = ctx.state, ctx.params
    grant = params.get("grant_type")
    if grant == "refresh_token":
        account = state.refresh_tokens.get(params.get("refresh_token", ""))
        if account is None or not state.accounts[account].authorized:
            raise errors.oauth_error("invalid_grant", f"Invalid refresh token: {params.get('refresh_token')}")
        return _grant(ctx, account, state.accounts[account].scope)
    if grant != "authorization_code":
        raise errors.oauth_error("unsupported_grant_type", f"Unsupported grant type: {grant}")
    code = params.get("code")
    entry = state.oauth_codes.get(code or "")
    if entry is None:
        raise errors.oauth_error("invalid_grant", f"Authorization code does not exist: {code}")
    if entry["used"]:
        raise errors.oauth_error(
            "invalid_grant",
            "This authorization code has already been used. All tokens issued with this code have been revoked.",
        )
    entry["used"] = True
    connected = state.accounts[entry["account"]]
    connected.authorized, connected.scope = True, entry["scope"]
    return _grant(ctx, connected.id, entry["scope"])


def _grant(ctx: Ctx, account: str, scope: str) -> dict[str, Any]:
    state = ctx.state
    livemode = bool(ctx.key and ctx.key.livemode)
    mode = "live" if livemode else "test"
    access = state.add_key(f"sk_{mode}_{state.ids.token(40)}", account=account, livemode=livemode)
    publishable = state.add_key(f"pk_{mode}_{state.ids.token(40)}", account=account, livemode=livemode)
    state.oauth_keys.update((access, publishable))
    refresh = f"rt_{state.ids.token(40)}"
    state.refresh_tokens[refresh] = account
    return {
        "access_token": access,
        "livemode": livemode,
        "refresh_token": refresh,
        "scope": scope,
        "stripe_publishable_key": publishable,
        "stripe_user_id": account,
        "token_type": "bearer",
    }


@route("POST", "/oauth/deauthorize", None)
def deauthorize_route(ctx: Ctx) -> dict:
    state, params = ctx.state, ctx.params
    if params.get("client_id") != state.client_id:
        raise errors.oauth_error("invalid_client", f"No such application: '{params.get('client_id')}'")
    account = params.get("stripe_user_id")
    connected = state.accounts.get(account or "")
    if connected is None or not connected.authorized or connected.platform != PLATFORM_ACCOUNT:
        raise errors.oauth_error(
            "invalid_client",
            f"This application is not connected to stripe account {account}, or that account does not exist.",
        )
    deauthorize(state, connected.id, bool(ctx.key and ctx.key.livemode))
    return {"stripe_user_id": connected.id}
