"""`GET /internal/tls-allowed?domain=`: Caddy's on-demand TLS asks before it requests a
certificate. 200 for a verified portal domain, 404 for anything else, so nobody can make the
instance fetch certificates for names it doesn't serve."""

from __future__ import annotations

from litestar import Request, Response, get

from backstop.embed import portal_domains
from backstop.web.deps import DB


@get("/internal/tls-allowed", sync_to_thread=True, include_in_schema=False)
def tls_allowed(request: Request, db: DB) -> Response:
    domain = (request.query_params.get("domain") or "").strip().lower().rstrip(".")
    if domain and len(domain) <= 253 and portal_domains.is_verified_host(db, domain):
        return Response("ok", media_type="text/plain", headers={"Cache-Control": "no-store"})
    return Response(
        "not a verified portal domain",
        status_code=404,
        media_type="text/plain",
        headers={"Cache-Control": "no-store"},
    )


handlers = [tls_allowed]
