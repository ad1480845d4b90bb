"""Outbound webhooks: how soon a change reaches the receiver, and deliveries per second.

Starts the real `backstop serve` (jobs consumer in-process) on a temporary data directory with
`BACKSTOP_WEBHOOKS_ALLOW_PRIVATE=true` and an endpoint pointing at a receiver in this process
(127.0.0.1, answers 200 at once and notes when each event arrives).

1. Change → first attempt: `--changes` times, one after the other, the script asks the server
   for a change that records an event (`POST /api/v1/webhook_endpoints/{id}/test`: the event row
   and its delivery row are committed in one transaction, then handed to the jobs queue). The
   latency runs from sending that request to the signed delivery arriving at the receiver, so it
   includes the API request, the commit, the queue and the signed POST. Target: p95 < 2 s.
2. Throughput: `--events` events are logged (one transaction), then queued at once with
   `backstop webhooks replay`; the rate is events delivered per second from the first arrival to
   the last, with BACKSTOP_JOBS_WORKERS workers (default 2) each sending one request at a time.

    .venv/bin/python bench/webhooks_out.py [--changes 100] [--events 2000] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
BACKSTOP = Path(sys.executable).parent / "backstop"
sys.path.insert(0, str(ROOT))


class Receiver:
    def __init__(self) -> None:
        self.arrivals: dict[str, float] = {}
        self.count = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                now = time.monotonic()
                event_id = json.loads(body)["id"]
                with receiver.lock:
                    receiver.arrivals.setdefault(event_id, now)
                    receiver.count += 1
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare(data_dir: Path, receiver_url: str) -> tuple[str, str, int]:
    from backstop.db import connect, migrate
    from backstop.lib.crypto import SecretBox
    from backstop.settings import Settings, ensure_secret_key
    from backstop.webhooks_out import endpoints
    from backstop.workspaces.admins import create_admin
    from backstop.workspaces.tokens import create_token
    from backstop.workspaces.workspaces import create_workspace

    settings = ensure_secret_key(Settings(data_dir=data_dir))
    migrate(settings.db_path)
    db = connect(settings.db_path)
    box = SecretBox(settings.secret_key)
    owner = create_admin(db, "bench@example.com", "bench-password-123")
    ws, _ = create_workspace(db, box, "Bench", owner, "bench")
    _, token = create_token(db, ws.id, "bench", livemode=False)
    endpoint, _ = endpoints.create_endpoint(
        db, box, ws.id, url=receiver_url, events=["recovery.opened"], allow_private=True
    )
    db.conn.close()
    return token, endpoint.public_id, ws.id


def log_events(data_dir: Path, workspace_id: int, n: int) -> list[str]:
    """Events logged while the endpoint was off (so nothing is sent yet), for the replay."""
    from backstop.db import connect, write_transaction
    from backstop.webhooks_out import events

    db = connect(data_dir / "backstop.db")
    db.execute("UPDATE webhook_endpoints SET enabled = 0")
    with write_transaction(db):
        ids = [
            events.record_event(
                db,
                workspace_id,
                "recovery.opened",
                {
                    "campaign_id": i,
                    "amount_due": {"amount": 4900, "currency": "usd"},
                    "decline_code": "insufficient_funds",
                },
            )
            for i in range(n)
        ]
    db.execute("UPDATE webhook_endpoints SET enabled = 1")
    db.conn.close()
    return ids


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--changes", type=int, default=100)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    receiver = Receiver()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        token, endpoint_id, workspace_id = prepare(data_dir, receiver.url)
        port = free_port()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("BACKSTOP_")},
            "BACKSTOP_DATA_DIR": str(data_dir),
            "BACKSTOP_PORT": str(port),
            "BACKSTOP_WEBHOOKS_ALLOW_PRIVATE": "true",
            "BACKSTOP_API_RATE_LIMIT": "100000",
            "BACKSTOP_JOBS_WORKERS": str(args.workers),
            "BACKSTOP_LOG_LEVEL": "warning",
        }
        server = subprocess.Popen(
            [str(BACKSTOP), "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    if time.monotonic() > deadline:
                        raise
                time.sleep(0.05)

            latencies = []
            with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as client:
                for _ in range(args.changes):
                    sent = time.monotonic()
                    event_id = client.post(f"/api/v1/webhook_endpoints/{endpoint_id}/test").json()["id"]
                    while event_id not in receiver.arrivals:
                        time.sleep(0.001)
                    latencies.append(receiver.arrivals[event_id] - sent)
                    time.sleep(0.05)
            print(
                f"change → first attempt, {args.changes} changes: p50 {statistics.median(latencies) * 1000:.0f} ms, "
                f"p95 {pct(latencies, 95) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms (target p95 < 2000 ms)"
            )

            ids = log_events(data_dir, workspace_id, args.events)
            result = subprocess.run(
                [str(BACKSTOP), "webhooks", "replay", "--endpoint", endpoint_id, "--since", "2000-01-01"],
                env=env, capture_output=True, text=True, check=True,
            )  # fmt: skip
            del result
            deadline = time.monotonic() + 600
            while not all(i in receiver.arrivals for i in ids):
                if time.monotonic() > deadline:
                    raise SystemExit("deliveries did not all arrive within 10 minutes")
                time.sleep(0.05)
            times = [receiver.arrivals[i] for i in ids]
            span = max(times) - min(times)
            print(
                f"throughput: {len(ids)} deliveries in {span:.2f} s = {len(ids) / span:.0f} deliveries/s "
                f"with {args.workers} workers ({receiver.count} requests received in all)"
            )
        finally:
            server.terminate()
            server.wait(timeout=30)
            receiver.server.shutdown()


if __name__ == "__main__":
    main()
