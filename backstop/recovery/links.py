"""Signed, expiring links in dunning emails: the hosted update-card page."""

from __future__ import annotations

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

UPDATE_CARD_MAX_AGE = 45 * 24 * 3600  # the dunning sequence plus a margin


class LinkError(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason  # "expired" or "invalid"


def _serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt="backstop.update-card.v1")


def update_card_token(secret_key: str, workspace_id: int, campaign_id: int) -> str:
    return _serializer(secret_key).dumps({"w": workspace_id, "c": campaign_id})


def read_update_card_token(
    secret_key: str, token: str, max_age: int = UPDATE_CARD_MAX_AGE
) -> tuple[int, int]:
    """Return (workspace id, campaign id) or raise LinkError."""
    try:
        data = _serializer(secret_key).loads(token, max_age=max_age)
    except SignatureExpired:
        raise LinkError("expired") from None
    except BadSignature:
        raise LinkError("invalid") from None
    if not isinstance(data, dict) or not isinstance(data.get("w"), int) or not isinstance(data.get("c"), int):
        raise LinkError("invalid")
    return data["w"], data["c"]


def update_card_url(public_url: str, secret_key: str, workspace_id: int, campaign_id: int) -> str:
    return f"{public_url}/update-card/{update_card_token(secret_key, workspace_id, campaign_id)}"
