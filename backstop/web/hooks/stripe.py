"""``POST /stripe/webhooks`` (Connect platform) and ``POST /stripe/webhooks/{slug}``.

Verify the signature over the raw body first; then store the event by id and queue it. The 200
goes out only after the event row is committed, so an acknowledged event is never lost.
"""

from __future__ import annotations

import logging

from litestar import Request, Response, post
from litestar.params import FromPath

from backstop.db import connect
from backstop.stripe_sync import connection, events
from backstop.stripe_sync.signature import SignatureError, verify_stripe_signature
from backstop.web.api.errors import error_response
from backstop.web.state import app_state
from backstop.workspaces.workspaces import get_workspace_by_slug

log = logging.getLogger("backstop.hooks.stripe")

MAX_EVENT_BYTES = 512 * 1024


def _reject(status: int, message: str) -> Response:
    return error_response(status, message)


def _accept(request: Request, workspace_id: int, event: dict) -> Response:
    from jobs.stripe import process_event

    db = connect(app_state(request).settings.db_path)
    try:
        row_id, created = events.ingest_event(db, workspace_id, event, "webhook")
        if created:
            connection.record_event_seen(db, workspace_id)
    finally:
        db.conn.close()
    if created:
        try:
            process_event(row_id)
        except Exception:  # the row is committed: the sweeper will enqueue it
            log.warning("could not enqueue event row %s; the sweeper will pick it up", row_id, exc_info=True)
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
    state = app_state(request)
    db = connect(state.settings.db_path)
    try:
        workspace = get_workspace_by_slug(db, slug)
        secrets = connection.webhook_secrets(db, state.box, workspace["id"]) if workspace else []
    finally:
        db.conn.close()
    if workspace is None:
        return _reject(404, f"No workspace has the slug {slug!r}; check the endpoint URL in Stripe.")
    if not secrets:
        return _reject(
            400,
            "This workspace has no webhook signing secret saved; add it under Settings → Stripe connection.",
        )
    try:
        verify_stripe_signature(body, request.headers.get("stripe-signature"), secrets)
        event = events.parse_event(body)
    except (SignatureError, events.InvalidEvent) as exc:
        log.info("refused a delivery to %s: %s", slug, exc)
        return _reject(400, str(exc))
    return _accept(request, workspace["id"], event)


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
    db = connect(state.settings.db_path)
    try:
        workspace_id = connection.workspace_for_account(db, account, bool(event.get("livemode")))
    finally:
        db.conn.close()
    if workspace_id is None:
        # Nothing is written; a 200 stops Stripe retrying an account no workspace is connected to.
        return Response({"received": True, "ignored": f"No workspace is connected to {account}."})
    return _accept(request, workspace_id, event)
