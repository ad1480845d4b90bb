"""Security headers, one function per audience, so every response of a kind gets the same ones
and a change (a new frame ancestor, a new script host) is made in one place.

- ``admin``: the admin pages and their error pages. Never cached (the tokens page shows a token
  once), never framed, only this site's scripts and forms.
- ``document``: read-only pages anyone may open (the API reference): never framed, this site only.
- ``customer_page``: pages a founder's customers open from an email (update card, win-back,
  unsubscribe). Each may widen scripts, frames and network calls for what it embeds (Stripe.js on
  the card page); ``frame_ancestors`` is where pages that may be framed name who may frame them.
- ``email_frame``: an email's HTML shown inside the admin's sandboxed iframe.

``Strict-Transport-Security`` is added to every HTML audience when the base URL is https.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

from litestar import Response

from backstop.settings import Settings

HSTS = "max-age=31536000; includeSubDomains"


def hsts(settings: Settings) -> dict[str, str]:
    """Tell browsers to use https only, once they have reached this site over https."""
    return {"Strict-Transport-Security": HSTS} if settings.public_url.startswith("https://") else {}


def admin(settings: Settings) -> dict[str, str]:
    return {
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "X-Frame-Options": "DENY",
        "Content-Security-Policy": (
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            f"frame-ancestors 'none'; form-action {' '.join(admin_form_targets(settings))}; "
            "base-uri 'none'; object-src 'none'"
        ),
        "Cache-Control": "no-store",
        **hsts(settings),
    }


def admin_form_targets(settings: Settings) -> list[str]:
    """Where an admin form may send the browser: this site, and Stripe's Connect consent screen
    (the "Connect Stripe" form answers with a redirect there, and form-action covers redirects)."""
    targets = ["'self'"]
    if settings.stripe_client_id:
        targets.append(origin(settings.stripe_connect_base or "https://connect.stripe.com"))
    return targets


def document(settings: Settings) -> dict[str, str]:
    return {
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "X-Frame-Options": "DENY",
        "Content-Security-Policy": (
            "default-src 'none'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "frame-ancestors 'none'; form-action 'none'; base-uri 'none'"
        ),
        **hsts(settings),
    }


def customer_page(
    settings: Settings,
    *,
    scripts: Iterable[str] = (),
    frames: Iterable[str] = (),
    connect: Iterable[str] = (),
    images: Iterable[str] = (),
    frame_ancestors: Iterable[str] = (),
) -> dict[str, str]:
    ancestors = " ".join(frame_ancestors) or "'none'"
    csp = ["default-src 'none'", "img-src " + " ".join(["'self'", "data:", *images])]
    csp.append("style-src 'self' 'unsafe-inline'")
    if scripts:
        csp.append("script-src " + " ".join(["'self'", *scripts]))
    if frames:
        csp.append("frame-src " + " ".join(frames))
    if connect:
        csp.append("connect-src " + " ".join(["'self'", *connect]))
    csp += ["form-action 'self'", f"frame-ancestors {ancestors}", "base-uri 'none'"]
    headers = {
        "Content-Security-Policy": "; ".join(csp),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
        **hsts(settings),
    }
    if not frame_ancestors:
        headers["X-Frame-Options"] = "DENY"
    return headers


def email_frame() -> dict[str, str]:
    return {
        "Content-Security-Policy": (
            "default-src 'none'; img-src 'self' https: http: data:; style-src 'unsafe-inline'; "
            "frame-ancestors 'self'; base-uri 'none'; form-action 'none'"
        ),
        "X-Frame-Options": "SAMEORIGIN",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store",
    }


def static() -> dict[str, str]:
    return {"X-Content-Type-Options": "nosniff"}


def hook(headers: dict[str, str]) -> Callable[[Response], Response]:
    """An ``after_request`` hook that adds these headers where a handler didn't set its own."""

    def add(response: Response) -> Response:
        for name, value in headers.items():
            response.headers.setdefault(name, value)
        return response

    return add


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
