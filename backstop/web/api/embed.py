"""``POST /api/v1/embed/check`` and ``POST /api/v1/embed/sessions``: the founder's backend turns
a signed embed token into a cancel session. The token is the credential (no bearer token);
both are rate-limited per client address like every unauthenticated request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from litestar import Request, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody

from backstop.cancel_flows import sessions
from backstop.embed import portal_domains, tokens
from backstop.web.api.errors import ERROR_RESPONSES, ApiError, ErrorBody
from backstop.web.deps import DB
from backstop.web.public.cancel import safe_return_url
from backstop.web.state import app_state

PATHS = {"/api/v1/embed/check", "/api/v1/embed/sessions"}

Reason = Literal[
    "malformed",
    "unsupported_alg",
    "unknown_workspace",
    "bad_signature",
    "exp_too_far",
    "expired",
    "reused",
    "unknown_customer",
]


@dataclass
class CheckIn:
    token: str


@dataclass
class SessionIn:
    token: str
    return_url: str


@dataclass
class WorkspaceOut:
    slug: str
    name: str


@dataclass
class CustomerOut:
    id: str
    email: str | None
    name: str | None
    subscription_id: str | None


@dataclass
class CheckOut:
    valid: bool
    reason: Reason | None = None
    message: str | None = None
    workspace: WorkspaceOut | None = None
    customer: CustomerOut | None = None
    expires_at: int | None = None


@dataclass
class SessionOut:
    object: Literal["cancel_session_link"]
    url: str
    session_id: int


_REFUSALS = {
    400: ResponseSpec(ErrorBody, generate_examples=False, description="A malformed body, or a token refused"),
    429: ERROR_RESPONSES[429],
}


@post(
    "/check",
    sync_to_thread=True,
    status_code=200,
    summary="Check an embed token",
    tags=["Embed"],
    responses=_REFUSALS,
    description="What Backstop sees in a signed embed token, without using it up: the workspace and "
    "customer it opens a cancel flow for, or `valid: false` with the reason (`malformed`, "
    "`unsupported_alg`, `unknown_workspace`, `bad_signature`, `exp_too_far`, `expired`, `reused`, "
    "`unknown_customer`) and a sentence saying what to fix. No API token: the JWT is the credential.",
)
def check_token(request: Request, db: DB, data: JSONBody[CheckIn]) -> CheckOut:
    result = tokens.check(db, app_state(request).box, data.token)
    if not result.valid:
        return CheckOut(valid=False, reason=result.reason, message=result.message)
    customer = result.customer
    return CheckOut(
        valid=True,
        workspace=WorkspaceOut(slug=result.workspace["slug"], name=result.workspace["name"]),
        customer=CustomerOut(
            id=result.customer_id,
            email=customer.email if customer else None,
            name=customer.name if customer else None,
            subscription_id=sessions.pick_subscription(customer, result.subscription_id)
            if customer
            else None,
        ),
        expires_at=int(result.claims["exp"]),
    )


@post(
    "/sessions",
    sync_to_thread=True,
    status_code=201,
    summary="Open a hosted cancel session",
    tags=["Embed"],
    responses=_REFUSALS,
    description="Use up a signed embed token and open a cancel session for its customer. Send the "
    "customer's browser to `url`; when they finish, the flow sends them back to `return_url` with "
    "`?outcome=` (`saved_discount`, `saved_pause`, `saved_downgrade`, `saved_other` or `canceled`). "
    "`return_url` must be an http(s) URL. A refused token is a 400 whose message names the reason.",
)
def open_session(request: Request, db: DB, data: JSONBody[SessionIn]) -> SessionOut:
    return_url = safe_return_url(data.return_url)
    if return_url is None:
        raise ApiError(400, "return_url must be an http or https URL with a host, at most 2,000 characters.")
    state = app_state(request)
    try:
        checked = tokens.redeem(db, state.box, data.token)
    except tokens.TokenRejected as exc:
        raise ApiError(400, f"{exc.reason}: {exc.message}")
    try:
        session = sessions.open_session(
            db,
            checked.workspace,
            checked.customer_id,
            checked.subscription_id,
            return_url=return_url,
            source="redirect",
        )
    except sessions.CannotOpen as exc:
        raise ApiError(400, f"{exc.reason}: {exc.message}")
    # The workspace's verified portal domain when it has one, else this instance's address.
    base = portal_domains.public_base(db, state.settings, checked.workspace["id"]).rstrip("/")
    return SessionOut(
        object="cancel_session_link", url=base + sessions.hosted_path(session.key), session_id=session.id
    )


handlers = [check_token, open_session]
