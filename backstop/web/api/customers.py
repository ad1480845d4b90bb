"""``GET /api/v1/customers`` and ``GET /api/v1/customers/{id}``: the mirrored Stripe customers of
the token's workspace."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from litestar import Request, get
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import Parameter

from backstop.stripe_sync import customers
from backstop.web.api.errors import ERROR_RESPONSES, ApiError, ErrorBody
from backstop.web.api.pagination import (
    CURSOR_DESCRIPTION,
    DEFAULT_LIMIT,
    MAX_LIMIT,
    decode_key_cursor,
    encode_key_cursor,
)
from backstop.web.deps import DB


@dataclass
class CardOut:
    """Card metadata only: never a card number or CVC."""

    payment_method: str
    brand: str | None
    last4: str | None
    exp_month: int | None
    exp_year: int | None


@dataclass
class CustomerOut:
    object: Literal["customer"]
    id: str
    email: str | None
    name: str | None
    currency: str | None
    created: int | None
    delinquent: bool
    deleted: bool
    metadata: dict[str, str]
    tags: list[str]
    mrr: dict[str, int]
    card: CardOut | None


@dataclass
class PauseOut:
    behavior: str | None
    resumes_at: int | None


@dataclass
class SubscriptionOut:
    object: Literal["subscription"]
    id: str
    status: str | None
    plan_name: str | None
    price_id: str | None
    product_id: str | None
    quantity: int | None
    currency: str | None
    unit_amount: int | None
    interval: str | None
    interval_count: int | None
    mrr: int
    counts_toward_mrr: bool
    created: int | None
    current_period_start: int | None
    current_period_end: int | None
    cancel_at_period_end: bool
    cancel_at: int | None
    canceled_at: int | None
    ended_at: int | None
    trial_end: int | None
    pause_collection: PauseOut | None


@dataclass
class CustomerDetailOut(CustomerOut):
    subscriptions: list[SubscriptionOut]
    recent_campaigns: list[dict[str, Any]]


@dataclass
class CustomerList:
    object: Literal["list"]
    data: list[CustomerOut]
    has_more: bool
    next_cursor: str | None


def _card(card: customers.Card | None) -> CardOut | None:
    if card is None:
        return None
    return CardOut(card.id, card.brand, card.last4, card.exp_month, card.exp_year)


def _customer_fields(c: customers.Customer) -> dict[str, Any]:
    return {
        "object": "customer",
        "id": c.id,
        "email": c.email,
        "name": c.name,
        "currency": c.currency,
        "created": c.created,
        "delinquent": c.delinquent,
        "deleted": c.deleted,
        "metadata": c.metadata,
        "tags": c.tags,
        "mrr": c.mrr,
        "card": _card(c.card),
    }


def _pause(value: dict | None) -> PauseOut | None:
    if not value:
        return None
    resumes = value.get("resumes_at")
    return PauseOut(value.get("behavior"), resumes if isinstance(resumes, int) else None)


def _subscription(s: customers.Subscription) -> SubscriptionOut:
    return SubscriptionOut(
        object="subscription",
        id=s.id,
        status=s.status,
        plan_name=s.plan_name,
        price_id=s.price_id,
        product_id=s.product_id,
        quantity=s.quantity,
        currency=s.currency,
        unit_amount=s.unit_amount,
        interval=s.interval,
        interval_count=s.interval_count,
        mrr=s.mrr,
        counts_toward_mrr=s.counts_toward_mrr,
        created=s.created,
        current_period_start=s.current_period_start,
        current_period_end=s.current_period_end,
        cancel_at_period_end=s.cancel_at_period_end,
        cancel_at=s.cancel_at,
        canceled_at=s.canceled_at,
        ended_at=s.ended_at,
        trial_end=s.trial_end,
        pause_collection=_pause(s.pause_collection),
    )


LIST_RESPONSES = {code: spec for code, spec in ERROR_RESPONSES.items() if code != 404}
DETAIL_RESPONSES = {
    **ERROR_RESPONSES,
    404: ResponseSpec(
        ErrorBody,
        generate_examples=False,
        description="No customer with this id in the token's workspace (not_found)",
    ),
}


@get(
    "/customers",
    sync_to_thread=True,
    summary="List customers",
    tags=["Customers"],
    responses=LIST_RESPONSES,
    description="The workspace's Stripe customers as Backstop mirrors them, newest first (by "
    "Stripe's `created`), with their card on file and their share of Active MRR. Customers "
    "deleted in Stripe are left out. Times are Unix seconds, as Stripe gives them; amounts are "
    "integer minor units keyed by lowercase currency code.",
)
def list_customers(
    request: Request,
    db: DB,
    email: Annotated[
        str | None,
        Parameter(
            description="Only the customer(s) with this email address, compared ignoring case.",
            max_length=512,
        ),
    ] = None,
    tag: Annotated[
        str | None,
        Parameter(
            description="Only customers with this tag: listed in the `backstop_tags` metadata key "
            "(comma-separated), or a metadata key of this name with a truthy value (anything but "
            "empty, 0, false, no, off, none, null). Ignores case.",
            max_length=200,
        ),
    ] = None,
    limit: Annotated[
        int, Parameter(description=f"Customers per page, 1 to {MAX_LIMIT}.", ge=1, le=MAX_LIMIT)
    ] = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None,
        Parameter(
            description=CURSOR_DESCRIPTION,
            max_length=1000,
        ),
    ] = None,
) -> CustomerList:
    owner = request.state.api_owner
    page = customers.list_customers(
        db, owner.workspace_id, email=email, tag=tag, limit=limit, after=decode_key_cursor(cursor)
    )
    return CustomerList(
        object="list",
        data=[CustomerOut(**_customer_fields(c)) for c in page.customers],
        has_more=page.next_key is not None,
        next_cursor=encode_key_cursor(page.next_key) if page.next_key else None,
    )


@get(
    "/customers/{customer_id:str}",
    sync_to_thread=True,
    summary="Retrieve a customer",
    tags=["Customers"],
    responses=DETAIL_RESPONSES,
    description="One customer by Stripe id (`cus_…`), with every mirrored subscription (the one "
    "that matters now first) and `recent_campaigns`: the customer's latest recovery campaigns, "
    "newest first (an empty list until recovery has opened one).",
)
def get_customer(
    request: Request,
    db: DB,
    customer_id: Annotated[str, Parameter(description="The Stripe customer id, such as cus_NffrFeUfNV2Hib.")],
) -> CustomerDetailOut:
    owner = request.state.api_owner
    found = customers.get_customer(db, owner.workspace_id, customer_id)
    if found is None:
        raise ApiError(404, f"No customer {customer_id!r} in this workspace.")
    return CustomerDetailOut(
        **_customer_fields(found),
        subscriptions=[_subscription(s) for s in found.subscriptions],
        recent_campaigns=customers.recent_campaigns(db, owner.workspace_id, customer_id),
    )


handlers = [list_customers, get_customer]
