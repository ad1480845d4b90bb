"""`GET /embed.js`: the script founders add to their app.

Served with a strong ETag (a hash of its bytes) and a short public cache, so a new release
reaches browsers within the hour while repeat loads cost a 304.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

from litestar import Request, Response, get

from backstop.paths import static_dir

CONTENT_TYPE = "text/javascript; charset=utf-8"


@lru_cache(maxsize=1)
def script() -> tuple[bytes, str]:
    body = (static_dir() / "embed" / "embed.js").read_bytes()
    return body, hashlib.sha256(body).hexdigest()[:16]


def _headers(digest: str, cache: str) -> dict[str, str]:
    return {
        "ETag": f'"{digest}"',
        "Cache-Control": cache,
        # Loaded by other sites' pages: allow that even under their COEP.
        "Cross-Origin-Resource-Policy": "cross-origin",
        "Access-Control-Allow-Origin": "*",
        "X-Content-Type-Options": "nosniff",
    }


@get("/embed.js", include_in_schema=False)
async def embed_js(request: Request) -> Response:
    body, digest = script()
    headers = _headers(digest, "public, max-age=3600, stale-while-revalidate=86400")
    if request.headers.get("if-none-match", "").strip() in (f'"{digest}"', f'W/"{digest}"'):
        return Response(b"", status_code=304, headers=headers)
    return Response(body, media_type=CONTENT_TYPE, headers=headers)


handlers = [embed_js]
