"""Who may frame Backstop's hosted pages (`/cancel/*`, `/portal/*`, `/update-card/*`, `/wall/*`).

One rule for every response: a response that states its own ``frame-ancestors`` owns its framing,
and the site-wide defaults then add no ``X-Frame-Options`` beside it. Hosted pages state it
through :func:`frame_headers`, built from the workspace's allowed origins (Settings → Embed);
every other page keeps ``frame-ancestors 'none'`` and ``X-Frame-Options: DENY``.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping

from sqlite_utils import Database

from backstop.embed import origins

# A hosted page's policy without its framing directive: own scripts and styles, own forms.
HOSTED_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: https:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'"
)
DENY = "frame-ancestors 'none'"
# Names the workspace a hosted page belongs to, for the portal-domain check (backstop.web.hosts);
# the check removes it before the response leaves.
WORKSPACE_HEADER = "X-Backstop-Workspace"


def _strip_frame_ancestors(csp: str) -> str:
    kept = [d.strip() for d in csp.split(";") if d.strip() and not d.strip().startswith("frame-ancestors")]
    return "; ".join(kept)


def frame_headers(db: Database, workspace_id: int | None, csp: str = HOSTED_CSP) -> dict[str, str]:
    """The Content-Security-Policy (``csp`` plus the framing directive) and, when nobody may frame
    the page, ``X-Frame-Options: DENY``. Set them on the hosted page's response."""
    allowed = origins.list_origins(db, workspace_id) if workspace_id is not None else []
    base = _strip_frame_ancestors(csp)
    owner = {WORKSPACE_HEADER: str(workspace_id)} if workspace_id is not None else {}
    if not allowed:
        return {"Content-Security-Policy": f"{base}; {DENY}", "X-Frame-Options": "DENY", **owner}
    return {"Content-Security-Policy": f"{base}; frame-ancestors {' '.join(allowed)}", **owner}


def parent_origin(db: Database, workspace_id: int | None, raw: str | None) -> str | None:
    """The ``?origin=`` embed.js passed, if the workspace lists it — the only origin a hosted page
    will post messages to. Anything else: None, and the page sends no message at all."""
    if workspace_id is None or not raw:
        return None
    try:
        origin = origins.normalize_origin(raw)
    except Exception:
        return None
    return origin if origins.is_allowed(db, workspace_id, origin) else None


def apply_defaults(headers: MutableMapping[str, str], defaults: Mapping[str, str]) -> None:
    """Add the site-wide security headers a response didn't set itself. When the response already
    carries a ``frame-ancestors`` directive, it owns its framing: no X-Frame-Options is added."""
    owns_framing = "frame-ancestors" in (headers.get("Content-Security-Policy") or "")
    for name, value in defaults.items():
        if owns_framing and name.lower() == "x-frame-options":
            continue
        headers.setdefault(name, value)


def frame_query(parent: str | None) -> str:
    """The query that keeps a page in embed mode across links and redirects inside the modal."""
    if not parent:
        return ""
    from urllib.parse import quote

    return f"?embed=1&origin={quote(parent, safe='')}"
