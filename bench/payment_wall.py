"""The Failed Payment Wall's check: server time of `POST /wall/check`, the request embed.js makes
on every page load of the founder's app.

Seeds a workspace with many customers, some with an in-flight recovery campaign, then signs a
fresh token per request and asks a real `backstop serve` (half of the customers owe money, so
half the answers open a wall session). Prints the loopback round trip of the request (the
server's time plus a few hundred microseconds of local HTTP) and, separately, the domain work
alone (token check, campaign lookup, token use and session row) in-process.
Target: p99 well under 50 ms; no Stripe call is made.

    .venv/bin/python bench/payment_wall.py [--customers 20000] [--owing 2000] [--requests 500]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import jwt

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from backstop import clock  # noqa: E402
from backstop.db import connect, migrate, write_transaction  # noqa: E402
from backstop.embed import hosted, origins, wall  # noqa: E402
from backstop.embed.tokens import check, redeem  # noqa: E402
from backstop.lib.crypto import SecretBox  # noqa: E402
from backstop.settings import Settings  # noqa: E402
from backstop.workspaces.admins import create_admin  # noqa: E402
from backstop.workspaces.workspaces import create_workspace, embed_secret  # noqa: E402
from tests.conftest import start_live_server  # noqa: E402

APP = "https://app.bench.test"
SECRET = "w" * 48


def seed(settings: Settings, customers: int, owing: int) -> tuple[str, list[str]]:
    migrate(settings.db_path)
    db = connect(settings.db_path)
    box = SecretBox(SECRET)
    owner = create_admin(db, "olivia@bench.test", "olivia-owns-the-shop")
    ws, _ = create_workspace(db, box, "Bench", owner, "bench")
    origins.add_origin(db, ws.id, APP)
    now = clock.iso()
    with write_transaction(db):
        db.conn.executemany(
            "INSERT INTO stripe_customers (workspace_id, id, email, name, version, synced_at) VALUES (?, ?, ?, ?, 1, ?)",
            [(ws.id, f"cus_{n:08d}", f"c{n}@bench.test", f"Customer {n}", now) for n in range(customers)],
        )
        db.conn.executemany(
            "INSERT INTO campaigns (workspace_id, invoice_id, customer_id, amount_due, currency, decline_code, "
            "first_failed_at, opened_at) VALUES (?, ?, ?, 4900, 'usd', 'insufficient_funds', ?, ?)",
            [
                (ws.id, f"in_{n:08d}", f"cus_{n:08d}", now, now)
                for n in range(0, customers, max(1, customers // owing))
            ],
        )
    secret = embed_secret(db, box, ws.id)
    db.conn.close()
    ids = [f"cus_{n:08d}" for n in range(customers)]
    return secret, ids


def token(secret: str, customer: str) -> str:
    now = int(time.time())
    claims = {"sub": customer, "ws": "bench", "iat": now, "exp": now + 300, "jti": uuid.uuid4().hex}
    return jwt.encode(claims, secret, algorithm="HS256")


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20000)
    parser.add_argument("--owing", type=int, default=2000)
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="backstop-bench-") as tmp:
        data = Path(tmp)
        settings = Settings(data_dir=data, secret_key=SECRET)
        secret, ids = seed(settings, args.customers, args.owing)
        step = max(1, args.customers // args.owing)
        # Alternate: a customer who owes (a wall opens) and one who doesn't (nothing to show).
        picks = [
            ids[(i * step) % len(ids)] if i % 2 == 0 else ids[(i * step + 1) % len(ids)]
            for i in range(args.requests)
        ]

        # Domain work alone, in-process.
        db = connect(settings.db_path)
        box = SecretBox(SECRET)
        domain = []
        for customer in picks:
            tok = token(secret, customer)
            started = time.perf_counter()
            seen = check(db, box, tok)
            due = wall.due_for(db, seen.workspace["id"], seen.customer_id)
            if due is not None:
                with write_transaction(db):
                    redeem(db, box, tok)
                    hosted.open_hosted(db, "wall", seen.workspace["id"], customer, campaign_id=due.campaign_id,
                                       invoice_id=due.invoice_id)  # fmt: skip
            domain.append(time.perf_counter() - started)
        db.conn.close()

        server = start_live_server(data, {"BACKSTOP_SECRET_KEY": SECRET})
        http = []
        shown = 0
        try:
            with httpx.Client(
                base_url=server.url, headers={"Origin": APP, "Content-Type": "text/plain"}
            ) as client:
                for customer in picks[:20]:  # warm up
                    client.post("/wall/check", content=json.dumps({"token": token(secret, customer)}))
                for customer in picks:
                    body = json.dumps({"token": token(secret, customer)})
                    started = time.perf_counter()
                    answer = client.post("/wall/check", content=body)
                    http.append(time.perf_counter() - started)
                    answer.raise_for_status()
                    shown += answer.json()["show"]
        finally:
            server.stop()

    print(f"customers {args.customers}, owing {args.owing}, requests {args.requests} ({shown} walls shown)")
    print(f"domain work (in-process): p50 {pct(domain, 50):.2f} ms  p99 {pct(domain, 99):.2f} ms  "
          f"mean {statistics.mean(domain) * 1000:.2f} ms")  # fmt: skip
    print(f"POST /wall/check (loopback round trip): p50 {pct(http, 50):.2f} ms  p99 {pct(http, 99):.2f} ms")


if __name__ == "__main__":
    main()
