"""The hosted cancel flow under load: `/cancel/s/{key}` response time p50/p99 with concurrent
customers, the page's weight (HTML + CSS + JS, gzipped, without the logo), and the time from a
customer tapping "accept" to the Stripe change being done.

    .venv/bin/python bench/cancel_page.py [--sessions 200] [--clients 8] [--seconds 10] [--accepts 30]

It runs the real `backstop serve` against the project's fake Stripe (in this process), with a
published flow and mirrored subscribers. Times are measured by clients on the loopback
interface, so they include HTTP on 127.0.0.1 but no network. A report, not a test.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import argparse
import gzip
import re
import statistics
import tempfile
import threading
import time

import httpx

from backstop.cancel_flows import sessions
from backstop.db import connect, migrate
from backstop.lib.crypto import SecretBox
from backstop.settings import Settings
from backstop.stripe_sync import connection
from backstop.workspaces.admins import create_admin
from backstop.workspaces.workspaces import create_workspace
from tests.cancel_flows.stories import flow_document, publish_flow, subscriber
from tests.conftest import start_live_server
from tests.fake_stripe import FakeStripe

SECRET_KEY = "k" * 48
HIDDEN_RE = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def load(url: str, paths: list[str], clients: int, seconds: float) -> list[float]:
    times: list[float] = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def worker(n: int) -> None:
        mine: list[float] = []
        with httpx.Client(base_url=url, timeout=10) as client:
            i = n
            while time.monotonic() < stop:
                started = time.perf_counter()
                answer = client.get(paths[i % len(paths)])
                mine.append(time.perf_counter() - started)
                assert answer.status_code == 200, answer.status_code
                i += clients
        with lock:
            times.extend(mine)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return times


def weight(client: httpx.Client, path: str) -> tuple[int, int, list[str]]:
    """(raw bytes, gzipped bytes, files) of a page and the CSS/JS it loads."""
    html = client.get(path).text
    assets = re.findall(r'(?:href|src)="(/static/[^"]+\.(?:css|js))"', html)
    raw = zipped = 0
    for body in [html.encode(), *(client.get(a).content for a in assets)]:
        raw += len(body)
        zipped += len(gzip.compress(body, compresslevel=6))
    return raw, zipped, assets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=200, help="open sessions the load spreads over")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients")
    parser.add_argument("--seconds", type=float, default=10.0, help="how long the load runs")
    parser.add_argument(
        "--accepts", type=int, default=30, help="offers accepted for the accept-to-Stripe figure"
    )
    args = parser.parse_args()

    fake = FakeStripe().start()
    data_dir = Path(tempfile.mkdtemp(prefix="backstop-bench-cancel-"))
    settings = Settings(data_dir=data_dir, secret_key=SECRET_KEY, stripe_api_base=fake.url)
    migrate(settings.db_path)
    db = connect(settings.db_path)
    box = SecretBox(SECRET_KEY)
    owner = create_admin(db, "bench@example.com", "bench-password-123")
    ws, _ = create_workspace(db, box, "Bench Co", owner, "bench")
    connection.save_key_connection(db, box, ws.id, fake.add_key(), False, webhook_secret=None, polling=False)
    publish_flow(db, ws.id, flow_document())
    people = [
        subscriber(db, ws.id, fake, email=f"c{i}@example.com") for i in range(args.sessions + args.accepts)
    ]
    keys = [
        sessions.open_session(
            db, ws, p.customer["id"], None, return_url="https://app.example.com/", source="redirect"
        ).key
        for p in people
    ]
    server = start_live_server(
        data_dir, {"BACKSTOP_SECRET_KEY": SECRET_KEY, "BACKSTOP_STRIPE_API_BASE": fake.url}
    )
    try:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            survey = sessions.hosted_path(keys[0])
            raw, zipped, assets = weight(client, survey)
            print(
                f"page weight, survey step: {raw / 1024:.1f} KB raw, {zipped / 1024:.1f} KB gzipped ({len(assets)} files: {', '.join(assets)})"
            )
            for _ in range(3):  # warm up
                client.get(survey)

        paths = [sessions.hosted_path(k) for k in keys[: args.sessions]]
        times = load(server.url, paths, args.clients, args.seconds)
        print(
            f"GET /cancel/s/{{key}}: {len(times)} requests in {args.seconds:.0f} s with {args.clients} clients "
            f"({len(times) / args.seconds:.0f}/s): p50 {pct(times, 50) * 1000:.1f} ms, "
            f"p99 {pct(times, 99) * 1000:.1f} ms, max {max(times) * 1000:.1f} ms"
        )

        waits: list[float] = []
        with httpx.Client(base_url=server.url, timeout=10) as client:
            for key in keys[args.sessions :]:
                path = sessions.hosted_path(key)
                page = client.get(path)
                hidden = dict(HIDDEN_RE.findall(page.text))
                client.post(f"{path}/step", data={**hidden, "action": "reason", "reason": "too_expensive"})
                hidden = dict(HIDDEN_RE.findall(client.get(path).text))
                started = time.perf_counter()
                client.post(f"{path}/step", data={**hidden, "action": "accept"})
                session_id = sessions.by_key(db, key).id
                while True:
                    row = db.execute(
                        "SELECT work_state FROM cancel_actions WHERE session_id = ?", [session_id]
                    ).fetchone()
                    if row and row[0] == "done":
                        break
                    if time.perf_counter() - started > 30:
                        raise SystemExit("a Stripe change took over 30 s")
                    time.sleep(0.002)
                waits.append(time.perf_counter() - started)
        print(
            f"accept → Stripe change done (coupon created and applied, 3 Stripe calls): {len(waits)} offers, "
            f"p50 {statistics.median(waits) * 1000:.0f} ms, p95 {pct(waits, 95) * 1000:.0f} ms, "
            f"max {max(waits) * 1000:.0f} ms"
        )
    finally:
        server.stop()
        db.conn.close()
        fake.stop()


if __name__ == "__main__":
    main()
