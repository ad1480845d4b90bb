from litestar import get
from litestar.response import Response

from backstop.db import ping
from backstop.web.deps import DB


@get("/healthz", include_in_schema=False, sync_to_thread=True, cache_control=None)
def healthz(db: DB) -> Response:
    """Liveness for Docker's HEALTHCHECK and uptime monitors: the database answers a query."""
    try:
        ping(db)
    except Exception as exc:  # any database failure means unhealthy
        return Response({"status": "error", "detail": f"database: {exc.__class__.__name__}"}, status_code=503)
    return Response({"status": "ok"}, headers={"Cache-Control": "no-store"})
