"""The ceiling for webhook ingest: the least a Litestar app can do per signed Stripe event.

Verify ``Stripe-Signature`` (HMAC-SHA256 over ``t.body``, constant-time compare, 5-minute
tolerance), parse the JSON, insert the event into SQLite in WAL mode (``synchronous=NORMAL``, as
Backstop uses) once per id, commit, answer 200. No workspaces, no jobs, no templates. Served by
uvicorn with httptools and uvloop. ``bench/stripe_ingest.py`` starts it beside ``backstop serve``
in the same run and reports Backstop's rate as a share of this one.

    .venv/bin/python bench/ingest_ceiling.py DB_PATH PORT SECRET
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
import sys
import time

import uvicorn
from litestar import Litestar, Request, Response, get, post


def make_app(db_path: str, secret: str) -> Litestar:
    # Each insert in its own BEGIN IMMEDIATE transaction, committed by `with db`.
    db = sqlite3.connect(db_path, isolation_level="IMMEDIATE", check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute(
        "CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, event_id TEXT UNIQUE NOT NULL, "
        "type TEXT NOT NULL, created INTEGER NOT NULL, payload TEXT NOT NULL, received_at REAL NOT NULL)"
    )
    key = secret.encode()

    @post("/stripe/webhooks/{slug:str}", status_code=200)
    async def webhook(request: Request, slug: str) -> Response:
        body = await request.body()
        header = request.headers.get("stripe-signature") or ""
        parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
        try:
            t = int(parts["t"])
        except (KeyError, ValueError):
            return Response({"error": "bad signature header"}, status_code=400)
        if abs(time.time() - t) > 300:
            return Response({"error": "stale signature"}, status_code=400)
        expected = hmac.new(key, str(t).encode() + b"." + body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, parts.get("v1", "")):
            return Response({"error": "signature mismatch"}, status_code=400)
        try:
            event = json.loads(body)
        except ValueError:
            return Response({"error": "not JSON"}, status_code=400)
        with db:
            cur = db.execute(
                "INSERT OR IGNORE INTO events (event_id, type, created, payload, received_at) "
                "VALUES (?, ?, ?, ?, ?)",
                [event["id"], event["type"], event["created"], body.decode(), time.time()],
            )
        return Response({"received": True, "duplicate": cur.rowcount == 0})

    @get("/healthz")
    async def health() -> dict:
        return {"ok": True}

    return Litestar([webhook, health])


def main() -> None:
    db_path, port, secret = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    uvicorn.run(
        make_app(db_path, secret),
        host="127.0.0.1",
        port=port,
        http="httptools",
        loop="uvloop",
        log_level="warning",
        server_header=False,
    )


if __name__ == "__main__":
    main()
