"""``POST /stripe/webhooks`` (Connect platform) and ``POST /stripe/webhooks/{slug}``.

Verify the signature over the raw body first; then store the event by id and queue it. The 200
goes out only after the event row is committed, so an acknowledged event is never lost.
"""

from __future__ import annotations

import logging
import threading

from litestar import Request, Response, post
from litestar.params import FromPath

from backstop.stripe_sync import events
from backstop.stripe_sync.inbox import Inbox
from backstop.stripe_sync.signature import SignatureError, verify_stripe_signature
from backstop.web.api.errors import error_response
from backstop.web.state import app_state

log = logging.getLogger("backstop.hooks.stripe")

MAX_EVENT_BYTES = 512 * 1024


def _reject(status: int, message: str) -> Response:
    return error_response(status, message)


_inbox_lock = threading.Lock()


def _inbox(request: Request) -> Inbox:
    """This app's inbox: a kept connection and a short cache of signing secrets (see Inbox)."""
    inbox = getattr(request.app.state, "stripe_inbox", None)
    if inbox is None:
        with _inbox_lock:
            inbox = getattr(request.app.state, "stripe_inbox", None)
            if inbox is None:
                from jobs.stripe import ask_for_processing

                state = app_state(request)
                inbox = request.app.state.stripe_inbox = Inbox(
                    state.settings.db_path, state.box, on_stored=ask_for_processing
                )
    return inbox


async def _accept(
    request: Request, workspace_id: int, event: dict, body: bytes, *, platform: bool = False
) -> Response:
    # Answers once the row is committed; the inbox then asks for the new events to be processed.
    stored = await _inbox(request).store_async(workspace_id, event, body, platform=platform)
    if stored is None:
        if platform:
            return Response(
                {"received": True, "ignored": f"No workspace is connected to {event['account']}."}
            )
        return _reject(
            400,
            "This workspace has no webhook signing secret saved; add it under Settings → Stripe connection.",
        )
    _, created = stored
    return Response({"received": True, "duplicate": not created}, status_code=200)


async def _body(request: Request) -> bytes | Response:
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > MAX_EVENT_BYTES:
        return _reject(
            413, f"The body is larger than {MAX_EVENT_BYTES // 1024} KB; Stripe events are smaller."
        )
    body = await request.body()
    if len(body) > MAX_EVENT_BYTES:
        return _reject(
            413, f"The body is larger than {MAX_EVENT_BYTES // 1024} KB; Stripe events are smaller."
        )
    return body


@post("/stripe/webhooks/{slug:str}", include_in_schema=False, status_code=200)
async def workspace_webhook(request: Request, slug: FromPath[str]) -> Response:
    body = await _body(request)
    if isinstance(body, Response):
        return body
    inbox = _inbox(request)
    workspace_id, secrets, cached = inbox.workspace(slug)
    if workspace_id is None:
        return _reject(404, f"No workspace has the slug {slug!r}; check the endpoint URL in Stripe.")
    if not secrets:
        return _reject(
            400,
            "This workspace has no webhook signing secret saved; add it under Settings → Stripe connection.",
        )
    header = request.headers.get("stripe-signature")
    try:
        try:
            verify_stripe_signature(body, header, secrets)
        except SignatureError:
            if not cached:
                raise
            # The secret may have been changed a moment ago: check against what is saved now.
            workspace_id, secrets, _ = inbox.workspace(slug, fresh=True)
            verify_stripe_signature(body, header, secrets)
        event = events.parse_event(body)
    except (SignatureError, events.InvalidEvent) as exc:
        log.info("refused a delivery to %s: %s", slug, exc)
        return _reject(400, str(exc))
    if workspace_id is None:
        return _reject(404, f"No workspace has the slug {slug!r}; check the endpoint URL in Stripe.")
    return await _accept(request, workspace_id, event, body)


@post("/stripe/webhooks", include_in_schema=False, status_code=200)
async def platform_webhook(request: Request) -> Response:
    state = app_state(request)
    secret = state.settings.stripe_webhook_secret
    if not secret:
        return _reject(
            404, "Connect platform webhooks aren't configured here (BACKSTOP_STRIPE_WEBHOOK_SECRET)."
        )
    body = await _body(request)
    if isinstance(body, Response):
        return body
    try:
        verify_stripe_signature(body, request.headers.get("stripe-signature"), [secret])
        event = events.parse_event(body)
    except (SignatureError, events.InvalidEvent) as exc:
        log.info("refused a platform delivery: %s", exc)
        return _reject(400, str(exc))
    account = event.get("account")
    if not account:
        return Response({"received": True, "ignored": "The event is about the platform account itself."})
    workspace_id = _inbox(request).workspace_for_account(account, bool(event.get("livemode")))
    if workspace_id is None:
        # Nothing is written; a 200 stops Stripe retrying an account no workspace is connected to.
        return Response({"received": True, "ignored": f"No workspace is connected to {account}."})
    return await _accept(request, workspace_id, event, body, platform=True)
