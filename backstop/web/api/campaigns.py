"""``GET /api/v1/campaigns`` and ``GET /api/v1/campaigns/{id}``: the token's workspace's recovery
campaigns, one per failed invoice."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from litestar import Request, get
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import Parameter

from backstop import clock
from backstop.recovery import campaigns, queries
from backstop.recovery.model import STATUSES, Campaign, StatusLiteral, total_attempts
from backstop.web.api.errors import ERROR_RESPONSES, ApiError, ErrorBody
from backstop.web.api.pagination import CURSOR_DESCRIPTION, DEFAULT_LIMIT, MAX_LIMIT, paginate
from backstop.web.deps import DB


@dataclass
class NextStepOut:
    kind: Literal["takeover", "retry", "dunning", "terminal"]
    seq: int
    due_at: int


@dataclass
class CampaignOut:
    object: Literal["campaign"]
    id: int
    status: StatusLiteral
    invoice_id: str
    customer_id: str | None
    subscription_id: str | None
    customer_email: str | None
    customer_name: str | None
    amount_due: int
    currency: str
    decline_code: str | None
    decline_class: Literal["soft", "hard", "never"]
    attempts: int
    took_over: bool
    dunning_holdout: bool | None
    opened_at: int
    closed_at: int | None
    close_reason: str | None
    next_step: NextStepOut | None


@dataclass
class DunningSendOut:
    object: Literal["email"]
    id: int
    step: int | None
    resend: bool
    to_email: str
    subject: str
    status: str
    status_reason: str | None
    created_at: int


@dataclass
class PaymentAttemptOut:
    object: Literal["payment_attempt"]
    attempt_number: int
    trigger: str
    attempted_at: int
    outcome: Literal["succeeded", "declined", "error"]
    decline_code: str | None


@dataclass
class CampaignDetailOut(CampaignOut):
    dunning_emails: list[DunningSendOut]
    payment_attempts: list[PaymentAttemptOut]


@dataclass
class CampaignList:
    object: Literal["list"]
    data: list[CampaignOut]
    has_more: bool
    next_cursor: str | None


def _ts(value: str | None) -> int | None:
    return int(clock.parse(value).timestamp()) if value else None


def _next_step(db: DB, campaign_id: int) -> NextStepOut | None:
    row = campaigns.next_step(db, campaign_id)
    return NextStepOut(row["kind"], row["seq"], _ts(row["due_at"]) or 0) if row else None


def _fields(db: DB, c: Campaign) -> dict:
    ours = campaigns.payment_attempt_count(db, c.id)
    return {
        "object": "campaign",
        "id": c.id,
        "status": c.status.value,
        "invoice_id": c.invoice_id,
        "customer_id": c.customer_id,
        "subscription_id": c.subscription_id,
        "customer_email": c.customer_email,
        "customer_name": c.customer_name,
        "amount_due": c.amount_due,
        "currency": c.currency,
        "decline_code": c.decline_code,
        "decline_class": c.decline_class,
        "attempts": total_attempts(c.stripe_attempts, ours),
        "took_over": c.took_over,
        "dunning_holdout": c.dunning_holdout,
        "opened_at": _ts(c.opened_at) or 0,
        "closed_at": _ts(c.closed_at),
        "close_reason": c.close_reason,
        "next_step": _next_step(db, c.id) if c.is_open else None,
    }


DETAIL_RESPONSES = {
    **ERROR_RESPONSES,
    404: ResponseSpec(
        ErrorBody,
        generate_examples=False,
        description="No campaign with this id in the token's workspace (not_found)",
    ),
}
LIST_RESPONSES = {code: spec for code, spec in ERROR_RESPONSES.items() if code != 404}


@get(
    "/campaigns",
    sync_to_thread=True,
    summary="List recovery campaigns",
    tags=["Campaigns"],
    responses=LIST_RESPONSES,
    description="The workspace's recovery campaigns, newest first: one per failed subscription "
    "invoice, with its amount, decline code and class, attempts so far (Stripe's and Backstop's) "
    "and the next planned step. Times are Unix seconds; amounts are integer minor units.",
)
def list_campaigns(
    request: Request,
    db: DB,
    status: Annotated[
        StatusLiteral | None,
        Parameter(description=f"Only campaigns with this status: {', '.join(STATUSES)}."),
    ] = None,
    limit: Annotated[
        int, Parameter(description=f"Campaigns per page, 1 to {MAX_LIMIT}.", ge=1, le=MAX_LIMIT)
    ] = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None,
        Parameter(
            description=CURSOR_DESCRIPTION,
            max_length=1000,
        ),
    ] = None,
) -> CampaignList:
    owner = request.state.api_owner
    if status is not None and status not in STATUSES:
        raise ApiError(400, f"status must be one of {', '.join(STATUSES)}; got {status[:40]!r}.")
    where, params = "workspace_id = ?", [owner.workspace_id]
    if status:
        where += " AND status = ?"
        params.append(status)
    page = paginate(
        db,
        "campaigns",
        where,
        params,
        limit=limit,
        cursor=cursor,
        serialise=lambda c: CampaignOut(**_fields(db, Campaign.from_row(c))),
    )
    return CampaignList(**page)


@get(
    "/campaigns/{campaign_id:int}",
    sync_to_thread=True,
    summary="Retrieve a recovery campaign",
    tags=["Campaigns"],
    responses=DETAIL_RESPONSES,
    description="One campaign with `dunning_emails` (each dunning email queued for it, resends "
    "included, and what became of it) and `payment_attempts` (each charge Backstop tried, with "
    "its outcome and decline code), oldest first.",
)
def get_campaign(
    request: Request,
    db: DB,
    campaign_id: Annotated[int, Parameter(description="The campaign's id, as the list gives it.")],
) -> CampaignDetailOut:
    owner = request.state.api_owner
    row = queries.get_campaign(db, owner.workspace_id, campaign_id)
    if row is None:
        raise ApiError(404, f"No campaign {campaign_id} in this workspace.")
    c = Campaign.from_row(row)
    return CampaignDetailOut(
        **_fields(db, c),
        dunning_emails=[
            DunningSendOut(
                object="email",
                id=m["id"],
                step=m["step"],
                resend=m["resend"],
                to_email=m["to_email"],
                subject=m["subject"],
                status=m["status"],
                status_reason=m["status_reason"],
                created_at=_ts(m["created_at"]) or 0,
            )
            for m in queries.dunning_sends(db, c)
        ],
        payment_attempts=[
            PaymentAttemptOut(
                object="payment_attempt",
                attempt_number=a["attempt_number"],
                trigger=a["trigger"],
                attempted_at=_ts(a["attempted_at"]) or 0,
                outcome=a["outcome"],
                decline_code=a["decline_code"],
            )
            for a in queries.attempts_of(db, c.id)
        ],
    )


handlers = [list_campaigns, get_campaign]
