"""``/api/v1/webhook_endpoints``: the token's workspace's outbound webhook endpoints.

The signing secret is in the answer of the create and rotate calls only; Backstop stores it
encrypted and never shows it again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Literal

from litestar import Request, delete, get, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import Body, Parameter

from backstop import clock
from backstop.web.api.errors import ERROR_RESPONSES, ApiError, ErrorBody
from backstop.web.deps import DB
from backstop.web.state import app_state
from backstop.webhooks_out import delivery, endpoints, events
from backstop.webhooks_out.endpoints import Endpoint, EndpointError
from backstop.webhooks_out.events import EVENT_TYPES

EventType = Literal[
    "recovery.opened",
    "recovery.recovered",
    "recovery.lost",
    "cancel.saved",
    "cancel.lost",
    "trial.reminder_sent",
    "reactivation.sent",
    "winback.recorded",
]
assert set(EventType.__args__) == set(EVENT_TYPES)

ID_DESCRIPTION = "The endpoint's id (`we_…`), as the list gives it."
EndpointId = Annotated[str, Parameter(description=ID_DESCRIPTION, max_length=64)]


@dataclass
class WebhookEndpointOut:
    object: Literal["webhook_endpoint"]
    id: str
    url: str
    events: list[EventType]
    enabled: bool
    description: str | None
    disabled_reason: str | None
    created_at: int


@dataclass
class WebhookEndpointWithSecret(WebhookEndpointOut):
    secret: str


@dataclass
class WebhookEndpointList:
    object: Literal["list"]
    data: list[WebhookEndpointOut]
    has_more: bool
    next_cursor: str | None


@dataclass
class WebhookEndpointIn:
    url: Annotated[str, Parameter(description="Where to POST events: an https URL.", max_length=2000)]
    events: Annotated[
        list[EventType], Parameter(description="The event types to send; at least one.", min_items=1)
    ]
    enabled: bool = True
    description: Annotated[str | None, Parameter(max_length=200)] = None


@dataclass
class WebhookEndpointUpdate:
    url: Annotated[str | None, Parameter(max_length=2000)] = None
    events: Annotated[list[EventType] | None, Parameter(min_items=1)] = None
    enabled: bool | None = None
    description: Annotated[str | None, Parameter(max_length=200)] = None


@dataclass
class DeletedOut:
    object: Literal["webhook_endpoint"]
    id: str
    deleted: Literal[True]


@dataclass
class TestEventOut:
    object: Literal["event"]
    id: str
    type: Literal["ping"]
    livemode: bool = field(default=False)


def _out(endpoint: Endpoint) -> dict:
    return {
        "object": "webhook_endpoint",
        "id": endpoint.public_id,
        "url": endpoint.url,
        "events": endpoint.events,
        "enabled": endpoint.enabled,
        "description": endpoint.description,
        "disabled_reason": endpoint.disabled_reason,
        "created_at": int(clock.parse(endpoint.created_at).timestamp()),
    }


def _bad(exc: EndpointError) -> ApiError:
    return ApiError(400, f"{exc.field}: {exc.message}")


DETAIL_RESPONSES = {
    **ERROR_RESPONSES,
    404: ResponseSpec(
        ErrorBody, generate_examples=False, description="No endpoint with this id in the token's workspace"
    ),
}
LIST_RESPONSES = {code: spec for code, spec in ERROR_RESPONSES.items() if code != 404}


@get(
    "/webhook_endpoints",
    sync_to_thread=True,
    summary="List webhook endpoints",
    tags=["Webhook endpoints"],
    responses=LIST_RESPONSES,
    description="Every outbound webhook endpoint of the workspace, oldest first (at most 16). "
    "The signing secret is never listed.",
)
def list_endpoints(request: Request, db: DB) -> WebhookEndpointList:
    owner = request.state.api_owner
    rows = endpoints.list_endpoints(db, owner.workspace_id)
    return WebhookEndpointList("list", [WebhookEndpointOut(**_out(e)) for e in rows], False, None)


@post(
    "/webhook_endpoints",
    sync_to_thread=True,
    status_code=201,
    summary="Create a webhook endpoint",
    tags=["Webhook endpoints"],
    responses=LIST_RESPONSES,
    description="Add an endpoint. The URL must be https and resolve only to public addresses. "
    "The answer carries `secret` (`whsec_…`), the signing secret: store it now, it is not shown again.",
)
def create_endpoint(
    request: Request, db: DB, data: Annotated[WebhookEndpointIn, Body()]
) -> WebhookEndpointWithSecret:
    owner = request.state.api_owner
    settings = app_state(request).settings
    try:
        endpoint, secret = endpoints.create_endpoint(
            db,
            app_state(request).box,
            owner.workspace_id,
            url=data.url,
            events=list(data.events),
            description=data.description,
            enabled=data.enabled,
            allow_private=settings.webhooks_allow_private,
            resolver=endpoints.resolver_for(settings),
        )
    except EndpointError as exc:
        raise _bad(exc) from None
    return WebhookEndpointWithSecret(**_out(endpoint), secret=secret)


@get(
    "/webhook_endpoints/{endpoint_id:str}",
    sync_to_thread=True,
    summary="Retrieve a webhook endpoint",
    tags=["Webhook endpoints"],
    responses=DETAIL_RESPONSES,
)
def get_endpoint(request: Request, db: DB, endpoint_id: EndpointId) -> WebhookEndpointOut:
    endpoint = endpoints.get_endpoint(db, request.state.api_owner.workspace_id, endpoint_id)
    if endpoint is None:
        raise ApiError(404, f"No webhook endpoint {endpoint_id[:64]} in this workspace.")
    return WebhookEndpointOut(**_out(endpoint))


@post(
    "/webhook_endpoints/{endpoint_id:str}",
    sync_to_thread=True,
    status_code=200,
    summary="Update a webhook endpoint",
    tags=["Webhook endpoints"],
    responses=DETAIL_RESPONSES,
    description="Change the fields given. Enabling a disabled endpoint clears its failure streak; "
    "events it missed are not sent again by themselves (replay them from the endpoint's page or "
    "with `backstop webhooks replay`).",
)
def update_endpoint(
    request: Request, db: DB, endpoint_id: EndpointId, data: Annotated[WebhookEndpointUpdate, Body()]
) -> WebhookEndpointOut:
    settings = app_state(request).settings
    try:
        endpoint = endpoints.update_endpoint(
            db,
            request.state.api_owner.workspace_id,
            endpoint_id,
            url=data.url,
            events=list(data.events) if data.events is not None else None,
            description=data.description,
            enabled=data.enabled,
            allow_private=settings.webhooks_allow_private,
            resolver=endpoints.resolver_for(settings),
        )
    except EndpointError as exc:
        raise _bad(exc) from None
    if endpoint is None:
        raise ApiError(404, f"No webhook endpoint {endpoint_id[:64]} in this workspace.")
    return WebhookEndpointOut(**_out(endpoint))


@delete(
    "/webhook_endpoints/{endpoint_id:str}",
    sync_to_thread=True,
    status_code=200,
    summary="Delete a webhook endpoint",
    tags=["Webhook endpoints"],
    responses=DETAIL_RESPONSES,
    description="Stop sending to the endpoint and forget its delivery log. The event log stays.",
)
def delete_endpoint(request: Request, db: DB, endpoint_id: EndpointId) -> DeletedOut:
    if not endpoints.delete_endpoint(db, request.state.api_owner.workspace_id, endpoint_id):
        raise ApiError(404, f"No webhook endpoint {endpoint_id[:64]} in this workspace.")
    return DeletedOut("webhook_endpoint", endpoint_id, True)


@post(
    "/webhook_endpoints/{endpoint_id:str}/rotate_secret",
    sync_to_thread=True,
    status_code=200,
    summary="Rotate an endpoint's signing secret",
    tags=["Webhook endpoints"],
    responses=DETAIL_RESPONSES,
    description="A new `secret` signs every delivery from now on. For 24 hours the previous secret "
    "signs too (two `v1=` entries), so receivers can switch without losing events.",
)
def rotate_secret(request: Request, db: DB, endpoint_id: EndpointId) -> WebhookEndpointWithSecret:
    rotated = endpoints.rotate_secret(
        db, app_state(request).box, request.state.api_owner.workspace_id, endpoint_id
    )
    if rotated is None:
        raise ApiError(404, f"No webhook endpoint {endpoint_id[:64]} in this workspace.")
    endpoint, secret = rotated
    return WebhookEndpointWithSecret(**_out(endpoint), secret=secret)


@post(
    "/webhook_endpoints/{endpoint_id:str}/test",
    sync_to_thread=True,
    status_code=202,
    summary="Send a test event",
    tags=["Webhook endpoints"],
    responses=DETAIL_RESPONSES,
    description="Queue a `ping` event to the endpoint, signed like every other delivery, even if "
    "the endpoint is disabled. Its outcome shows in the endpoint's delivery log.",
)
def send_test(request: Request, db: DB, endpoint_id: EndpointId) -> TestEventOut:
    owner = request.state.api_owner
    event_id = delivery.send_test(db, owner.workspace_id, endpoint_id)
    if event_id is None:
        raise ApiError(404, f"No webhook endpoint {endpoint_id[:64]} in this workspace.")
    logged = events.get_event(db, owner.workspace_id, event_id)
    return TestEventOut("event", event_id, "ping", bool(logged and logged["livemode"]))


handlers = [
    list_endpoints,
    create_endpoint,
    get_endpoint,
    update_endpoint,
    delete_endpoint,
    rotate_secret,
    send_test,
]
