"""Signatures a receiver checks with libraries it already has.

``X-Backstop-Signature`` is Stripe's scheme byte for byte (``t=<unix>,v1=<hex HMAC-SHA256 of
"<t>.<body>" keyed with the whole secret string>``), so ``stripe.Webhook.construct_event`` and
Stripe's other libraries verify it. The ``webhook-*`` headers follow the Standard Webhooks
specification (the key is the base64 part of the secret after ``whsec_``). During a rotation each
secret adds its own signature to both headers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

USER_AGENT = "Backstop-Webhooks/1"


def stripe_signature(secret: str, timestamp: int, body: bytes) -> str:
    signed = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def standard_signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{message_id}.{timestamp}.".encode() + body
    return base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def headers_for(secrets: list[str], event_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """Every header a delivery carries, signed with each of ``secrets`` (current first)."""
    stripe_parts = [f"t={timestamp}", *(f"v1={stripe_signature(s, timestamp, body)}" for s in secrets)]
    standard = " ".join(f"v1,{standard_signature(s, event_id, timestamp, body)}" for s in secrets)
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Backstop-Signature": ",".join(stripe_parts),
        "webhook-id": event_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": standard,
    }
