"""A webhook receiver on 127.0.0.1 that records what arrives and answers what a test asks, and a
spy on every outgoing TCP connection of this process."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Answers each request with the next planned answer (default 200 "ok")."""

    url: str
    requests: list[Received] = field(default_factory=list)
    plan: list[tuple[int, dict, bytes]] = field(default_factory=list)
    hang: threading.Event | None = None  # while set, requests are held open without an answer
    arrived: threading.Event = field(default_factory=threading.Event)

    def answer(self, status: int, body: bytes = b"", headers: dict | None = None, times: int = 1) -> None:
        self.plan += [(status, headers or {}, body)] * times

    def events(self, type: str | None = None) -> list[dict]:
        return [r.event for r in self.requests if type is None or r.event["type"] == type]

    def wait_for(self, count: int, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while len(self.requests) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(self.requests) >= count, f"{len(self.requests)} of {count} deliveries arrived"


def start_receiver() -> tuple[Receiver, ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    receiver = Receiver(url=f"http://127.0.0.1:{server.server_address[1]}/hooks/backstop")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            receiver.requests.append(
                Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            )
            receiver.arrived.set()
            if receiver.hang is not None:
                receiver.hang.wait(30)
            status, headers, answer = receiver.plan.pop(0) if receiver.plan else (200, {}, b"ok")
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args) -> None:
            return None

    server.RequestHandlerClass = Handler
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return receiver, server


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec, server = start_receiver()
    try:
        yield rec
    finally:
        if rec.hang is not None:
            rec.hang.set()
        server.shutdown()
        server.server_close()


@pytest.fixture
def connections(monkeypatch) -> list[tuple]:
    """Every address this process tries to open a TCP connection to, in order."""
    seen: list[tuple] = []
    original = socket.socket.connect

    def spy(self, address):
        if self.type == socket.SOCK_STREAM:
            seen.append(address)
        return original(self, address)

    monkeypatch.setattr(socket.socket, "connect", spy)
    return seen


@pytest.fixture
def hook_settings(settings):
    """Development settings: the tests' receivers listen on 127.0.0.1 over plain http."""
    from dataclasses import replace

    return replace(settings, webhooks_allow_private=True)


@pytest.fixture
def outbound(hook_settings, db):
    """The delivery job wired as `backstop serve` has it: a delivery row is handed to its task as
    soon as its transaction commits, and the task runs inline."""
    from backstop import manifest
    from backstop.lib import workrows
    from jobs import queue
    from jobs.sweeper import enqueue_ready

    manifest.load()
    queue.configure(hook_settings, immediate=True)
    workrows.on_ready(enqueue_ready)
    yield hook_settings
    workrows.on_ready(None)


@pytest.fixture
def deliver_on_commit():
    """As when the jobs consumer runs: a committed delivery row goes straight to its task (which
    runs inline in tests, where the app's queue is in immediate mode)."""
    from backstop import manifest
    from backstop.lib import workrows
    from jobs.sweeper import enqueue_ready

    manifest.load()
    workrows.on_ready(enqueue_ready)
    yield
    workrows.on_ready(None)


def run_due(db, settings) -> list[str]:
    """What the sweeper does each minute: one attempt at every due delivery."""
    from backstop.webhooks_out import delivery

    return [delivery.deliver(db, settings, i) for i in delivery.due_ids(db)]
