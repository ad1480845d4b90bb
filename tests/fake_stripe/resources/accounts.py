"""`GET /v1/account`: who the key (or the `Stripe-Account` header) belongs to."""

from __future__ import annotations

from .. import errors
from ..router import Ctx, route
from ..state import PLATFORM_ACCOUNT


@route("GET", "/v1/account", "account")
def retrieve_own(ctx: Ctx) -> dict:
    return ctx.render(ctx.state.account_object(ctx.account))


@route("GET", "/v1/accounts/{id}", "account")
def retrieve(ctx: Ctx) -> dict:
    acct = ctx.path["id"]
    if acct == ctx.account:
        return ctx.render(ctx.state.account_object(acct))
    connected = ctx.state.accounts.get(acct)
    if ctx.account != PLATFORM_ACCOUNT or connected is None or not connected.authorized:
        raise errors.permission(
            f"The provided key '{errors.mask_key(ctx.key.secret if ctx.key else '')}' does not have access to "
            f"account '{acct}' (or that account does not exist). Application access may have been revoked.",
            code="account_invalid",
        )
    return ctx.render(connected.object)
