"""Stripe backfill: requests per second used of the configured rate, at 0 ms and 100 ms latency.

The fake Stripe runs in its own process (as Stripe would be another machine) seeded with
customers created over the last two years, each with a card, some with a subscription and its paid
first invoice. Backstop connects with a restricted key and runs the real backfill
(`backstop.stripe_sync.backfill.run`, the code behind `backstop stripe sync`) through the real SDK,
paced by the configured rate limit (default 20 requests/s, as shipped). Each run starts from an
empty mirror. Target: at 100 ms per request it uses at least 90 % of the configured rate, and the
fake never sees more than the rate in any one second.

    .venv/bin/python bench/stripe_backfill.py [--customers 10000] [--subscribed 1000]
        [--latency 0 0.1] [--rate 20]
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KEY = "rk_test_benchBackfillKey000000000001"
PERMISSIONS = {
    "customers": "write",
    "subscriptions": "write",
    "invoices": "write",
    "payment_methods": "read",
    "setup_intents": "write",
    "coupons": "write",
    "products": "read",
    "prices": "read",
    "charges": "read",
    "events": "read",
    "webhook_endpoints": "write",
    "billing_portal": "read",
}


def run_fake(conn, customers: int, subscribed: int) -> None:
    """The fake Stripe's process: seed, report the address, then obey ("latency", s),
    ("busiest",) (the most requests that arrived in one second since the last ask) / ("stop",)."""
    sys.path.insert(0, str(ROOT))
    from tests.fake_stripe.server import FakeStripe

    fake = FakeStripe().start()
    fake.add_key(KEY, permissions=PERMISSIONS)
    price = fake.create_price(2500)
    ids = fake.seed_customers(customers, spread_days=730)
    for cus in ids:
        fake.make_card(customer=cus, default=True)
    for cus in ids[:subscribed]:
        fake.create_subscription(cus, price["id"])
    conn.send(fake.url)
    while True:
        command = conn.recv()
        if command[0] == "latency":
            fake.faults.latency = command[1]
            fake.requests.clear()
            conn.send("ok")
        elif command[0] == "busiest":
            conn.send(fake.requests.busiest_second())
        else:
            fake.stop()
            return


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=10000)
    parser.add_argument("--subscribed", type=int, default=1000, help="customers with a subscription")
    parser.add_argument("--latency", type=float, nargs="+", default=[0.0, 0.1], help="seconds per request")
    parser.add_argument("--rate", type=int, default=20, help="Backstop's Stripe request rate (req/s)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    sys.path.insert(0, str(ROOT))
    from backstop.db import connect, migrate
    from backstop.lib.crypto import SecretBox
    from backstop.settings import Settings
    from backstop.stripe_sync import backfill, connection, mirror, service
    from backstop.workspaces.admins import create_admin
    from backstop.workspaces.workspaces import create_workspace

    parent, child = multiprocessing.Pipe()
    seeding = time.perf_counter()
    fake = multiprocessing.get_context("spawn").Process(
        target=run_fake, args=(child, args.customers, args.subscribed), daemon=True
    )
    fake.start()
    url = parent.recv()
    print(
        f"fake Stripe at {url}: {args.customers} customers with a card, {args.subscribed} subscribed "
        f"(seeded in {time.perf_counter() - seeding:.0f} s); Backstop paced at {args.rate} requests/s"
    )
    try:
        with tempfile.TemporaryDirectory(prefix="backstop-bench-backfill-") as tmp:
            settings = Settings(
                data_dir=Path(tmp),
                secret_key="b" * 48,
                stripe_api_base=url,
                stripe_connect_base=url,
                stripe_rate_limit=args.rate,
            )
            migrate(settings.db_path)
            db = connect(settings.db_path)
            box = SecretBox(settings.secret_key)
            owner = create_admin(db, "bench@example.com", "bench-password-123")
            ws, _ = create_workspace(db, box, "Bench", owner, "bench")
            service.connect_restricted_key(db, box, settings, ws.id, "bench", KEY)
            for latency in args.latency:
                parent.send(("latency", latency))
                parent.recv()
                mirror.purge(db, ws.id)
                row_id = backfill.start(db, ws.id)
                gateways: list = []

                def gateway_for(workspace_id: int, gateways: list = gateways):
                    gateway = connection.gateway(db, box, settings, workspace_id)
                    gateways.append(gateway)
                    return gateway

                started = time.perf_counter()
                outcome = backfill.run(db, row_id, gateway_for)
                elapsed = time.perf_counter() - started
                done = backfill.progress(db, ws.id)
                calls = sum(g.calls for g in gateways)
                parent.send(("busiest",))
                busiest = parent.recv()
                used = calls / elapsed
                print(
                    f"latency {latency * 1000:.0f} ms: {outcome}, {done.synced:,} objects in {elapsed:.1f} s = "
                    f"{done.synced / elapsed:,.0f} objects/s; {calls} requests = {used:.1f} requests/s of "
                    f"{args.rate} configured = {100 * used / args.rate:.0f} % (target >= 90 % at 100 ms); "
                    f"busiest second at Stripe {busiest} (limit {args.rate})"
                )
                print("  " + ", ".join(f"{t.key} {t.synced}" for t in done.types))
            db.conn.close()
    finally:
        parent.send(("stop",))
        fake.join(timeout=10)


if __name__ == "__main__":
    main()
