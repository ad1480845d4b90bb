"""What every request can reach: settings, the secret box, the API rate limiter, a db."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from litestar import Request
from sqlite_utils import Database

from backstop.db import connect
from backstop.lib.crypto import SecretBox
from backstop.lib.ratelimit import FixedWindowLimiter
from backstop.settings import Settings

WALL_CHECKS_PER_MINUTE = 300


@dataclass
class AppState:
    settings: Settings
    box: SecretBox
    api_limiter: FixedWindowLimiter
    unauthenticated_limiter: FixedWindowLimiter
    # Payment wall checks per client address a minute: far above what one person's page loads
    # ask, low enough that a loop or a flood can't keep the database busy.
    wall_limiter: FixedWindowLimiter


def app_state(request: Request) -> AppState:
    return request.app.state.backstop


def provide_db(request: Request) -> Iterator[Database]:
    db = connect(app_state(request).settings.db_path)
    try:
        yield db
    finally:
        db.conn.close()


def client_ip(request: Request) -> str:
    client = request.client
    return client.host if client else "unknown"
