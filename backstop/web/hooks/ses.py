"""``POST /hooks/ses``: SES bounce and complaint notifications through Amazon SNS.

SNS posts JSON with ``Content-Type: text/plain``; the raw body is verified (SNS signature with
the certificate SNS names, from Amazon's host only) before anything is written.
"""

from __future__ import annotations

from litestar import Request, Response, post

from backstop.db import connect
from backstop.email import feedback, providers
from backstop.web.state import app_state

MAX_BODY_BYTES = 256 * 1024


@post("/hooks/ses", include_in_schema=False, status_code=200)
async def ses_notifications(request: Request) -> Response:
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        return Response(
            "The body is larger than an SNS message can be.", status_code=413, media_type="text/plain"
        )
    settings = app_state(request).settings
    return await _handle(settings, body)


async def _handle(settings, body: bytes) -> Response:
    import anyio.to_thread

    def work() -> feedback.Outcome:
        db = connect(settings.db_path)
        try:
            return feedback.handle_sns(db, providers.sns_verifier(settings), body, settings.sns_topic_arns)
        finally:
            db.conn.close()

    # Verifying may fetch a certificate: keep that off the event loop.
    outcome = await anyio.to_thread.run_sync(work)
    return Response(outcome.text, status_code=outcome.status_code, media_type="text/plain")
