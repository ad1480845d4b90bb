"""``GET /api/v1/cancel_sessions`` and ``GET /api/v1/cancel_sessions/{id}``: the token's
workspace's cancel sessions, newest first."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Literal

from litestar import Request, get
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import Parameter

from backstop import clock
from backstop.cancel_flows import runtime, sessions
from backstop.web.api.errors import ERROR_RESPONSES, ApiError, ErrorBody
from backstop.web.api.pagination import CURSOR_DESCRIPTION, DEFAULT_LIMIT, MAX_LIMIT, paginate
from backstop.web.deps import DB

Outcome = Literal["saved_discount", "saved_pause", "saved_downgrade", "saved_other", "canceled", "abandoned"]


@dataclass
class MoneyOut:
    amount: int
    currency: str | None


@dataclass
class OfferShownOut:
    node: str
    variant: str | None
    kind: str


@dataclass
class CancelSessionOut:
    object: Literal["cancel_session"]
    id: int
    customer_id: str
    customer_email: str | None
    subscription_id: str | None
    source: str
    flow_id: int | None
    flow_version: int | None
    arm: str
    offers_skipped: Literal["holdout", "cooldown"] | None
    state: Literal["open", "pending_action", "finished"]
    outcome: Outcome | None
    reason_code: str | None
    reason_label: str | None
    free_text: str | None
    offers_shown: list[OfferShownOut]
    offer_accepted: dict | None
    mrr_at_stake: MoneyOut
    mrr_saved: MoneyOut
    opened_at: int
    decided_at: int | None
    finished_at: int | None


@dataclass
class StripeActionOut:
    kind: str
    state: Literal["pending", "working", "done", "failed"]
    attempts: int
    last_error: str | None
    done_at: int | None


@dataclass
class CancelSessionDetailOut(CancelSessionOut):
    path: list[str]
    stripe_action: StripeActionOut | None


@dataclass
class CancelSessionList:
    object: Literal["list"]
    data: list[CancelSessionOut]
    has_more: bool
    next_cursor: str | None


def _ts(value: str | None) -> int | None:
    return int(clock.parse(value).timestamp()) if value else None


def _fields(r: dict) -> dict:
    return {
        "object": "cancel_session",
        "id": r["id"],
        "customer_id": r["customer_id"],
        "customer_email": r["customer_email"],
        "subscription_id": r["subscription_id"],
        "source": r["source"],
        "flow_id": r["flow_id"],
        "flow_version": r["version"],
        "arm": r["arm"],
        "offers_skipped": r["skip_offers"],
        "state": r["state"],
        "outcome": r["outcome"],
        "reason_code": r["reason_code"],
        "reason_label": r["reason_label"],
        "free_text": r["free_text"],
        "offers_shown": [OfferShownOut(**o) for o in json.loads(r["offers_shown"] or "[]")],
        "offer_accepted": json.loads(r["offer_accepted"]) if r["offer_accepted"] else None,
        "mrr_at_stake": MoneyOut(r["mrr_at_stake"] or 0, r["currency"]),
        "mrr_saved": MoneyOut(r["mrr_saved"] or 0, r["currency"]),
        "opened_at": _ts(r["opened_at"]) or 0,
        "decided_at": _ts(r["decided_at"]),
        "finished_at": _ts(r["finished_at"]),
    }


LIST_RESPONSES = {code: spec for code, spec in ERROR_RESPONSES.items() if code != 404}
DETAIL_RESPONSES = {
    **ERROR_RESPONSES,
    404: ResponseSpec(
        ErrorBody,
        generate_examples=False,
        description="No cancel session with this id in the token's workspace",
    ),
}


@get(
    "/cancel_sessions",
    sync_to_thread=True,
    summary="List cancel sessions",
    tags=["Cancel sessions"],
    responses=LIST_RESPONSES,
    description="The workspace's cancel sessions, newest first: who opened the cancel flow, the "
    "version or holdout they got, their reason, the offers they saw and accepted, the outcome, "
    "and the MRR at stake and saved (integer minor units). Times are Unix seconds.",
)
def list_cancel_sessions(
    request: Request,
    db: DB,
    outcome: Annotated[
        Outcome | None,
        Parameter(description="Only sessions with this outcome."),
    ] = None,
    limit: Annotated[
        int, Parameter(description=f"Sessions per page, 1 to {MAX_LIMIT}.", ge=1, le=MAX_LIMIT)
    ] = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None,
        Parameter(description=CURSOR_DESCRIPTION, max_length=1000),
    ] = None,
) -> CancelSessionList:
    owner = request.state.api_owner
    if outcome is not None and outcome not in runtime.OUTCOMES:
        raise ApiError(400, f"outcome must be one of {', '.join(runtime.OUTCOMES)}.")
    where, params = "workspace_id = ?", [owner.workspace_id]
    if outcome:
        where += " AND outcome = ?"
        params.append(outcome)
    page = paginate(
        db,
        "cancel_sessions",
        where,
        params,
        limit=limit,
        cursor=cursor,
        serialise=lambda r: CancelSessionOut(**_fields(r)),
    )
    return CancelSessionList(**page)


@get(
    "/cancel_sessions/{session_id:int}",
    sync_to_thread=True,
    summary="Retrieve a cancel session",
    tags=["Cancel sessions"],
    responses=DETAIL_RESPONSES,
    description="One cancel session with the steps the customer went through (`path`) and the "
    "Stripe change that carries out its outcome (`stripe_action`: its kind, whether it is done, "
    "attempts and the last error while Backstop retries), or null when the outcome needs none.",
)
def get_cancel_session(
    request: Request,
    db: DB,
    session_id: Annotated[int, Parameter(description="The session's id, as the list gives it.")],
) -> CancelSessionDetailOut:
    owner = request.state.api_owner
    if not 0 < session_id < 2**63:
        raise ApiError(404, f"No cancel session {session_id} in this workspace.")
    session = sessions.get(db, owner.workspace_id, session_id)
    if session is None:
        raise ApiError(404, f"No cancel session {session_id} in this workspace.")
    action = sessions.action_of(db, session.id)
    return CancelSessionDetailOut(
        **_fields(session.row),
        path=json.loads(session.path),
        stripe_action=StripeActionOut(
            kind=action["kind"],
            state=action["work_state"],
            attempts=action["attempts"],
            last_error=action["last_error"],
            done_at=_ts(action["done_at"]),
        )
        if action
        else None,
    )


handlers = [list_cancel_sessions, get_cancel_session]
