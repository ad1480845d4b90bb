"""Caddy's on-demand TLS asks Backstop before it issues a certificate for a portal domain: a real
Caddy on 127.0.0.1 ports with its internal (self-signed) issuer, in front of a real Backstop.
A verified portal domain gets a certificate and reaches Backstop; any other name gets none."""

from __future__ import annotations

import socket
import ssl
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx

from backstop.db import connect, migrate
from backstop.embed import portal_domains
from backstop.lib.crypto import SecretBox
from backstop.settings import Settings
from backstop.workspaces.admins import create_admin
from backstop.workspaces.workspaces import create_workspace
from tests.conftest import free_port, start_live_server
from tests.email.fixtures import dns_server  # noqa: F401 - fixture
from tests.packaging.conftest import need

INSTANCE = "backstop.example.test"
PORTAL = "portal.acme.test"


def _caddyfile(backstop: str, ask: str, http_port: int, https_port: int, storage: Path) -> str:
    host_port = backstop.removeprefix("http://")
    return f"""{{
	admin off
	skip_install_trust
	local_certs
	http_port {http_port}
	https_port {https_port}
	storage file_system {storage}
	on_demand_tls {{
		ask {ask}/internal/tls-allowed
	}}
}}

https:// {{
	bind 127.0.0.1
	tls {{
		on_demand
	}}
	reverse_proxy {host_port}
}}
"""


def _recording_proxy(backstop: str, asked: list[str]) -> ThreadingHTTPServer:
    """Between Caddy and Backstop: forwards each ask and notes which domain it was about."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            asked.append(parse_qs(urlsplit(self.path).query).get("domain", [""])[0])
            answer = httpx.get(backstop + self.path, timeout=30)
            self.send_response(answer.status_code)
            self.send_header("Content-Length", str(len(answer.content)))
            self.end_headers()
            self.wfile.write(answer.content)

        def log_message(self, *args):
            return

    proxy = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    return proxy


def _handshake(port: int, name: str) -> tuple[bool, bytes]:
    """TLS to Caddy with this SNI; (handshake ok, response to GET /embed.js)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=30) as raw:
        try:
            with context.wrap_socket(raw, server_hostname=name) as tls:
                tls.sendall(f"GET /embed.js HTTP/1.1\r\nHost: {name}\r\nConnection: close\r\n\r\n".encode())
                chunks = []
                while chunk := tls.recv(65536):
                    chunks.append(chunk)
                return True, b"".join(chunks)
        except (ssl.SSLError, ConnectionResetError):
            return False, b""


def _wait_port(port: int, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(log.read_text())
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("caddy did not start:\n" + log.read_text())


def test_caddy_asks_backstop_and_issues_certificates_for_verified_portal_domains_only(
    tmp_path,
    dns_server,  # noqa: F811
):
    data_dir = tmp_path / "live"
    data_dir.mkdir()
    settings = Settings(data_dir=data_dir, secret_key="c" * 48, base_url=f"https://{INSTANCE}",
                        dns_resolvers=(dns_server.address,))  # fmt: skip
    migrate(settings.db_path)
    db = connect(settings.db_path)
    owner = create_admin(db, "olivia@acme.test", "olivia-owns-the-shop")
    ws, _ = create_workspace(db, SecretBox(settings.secret_key), "Acme Analytics", owner, "acme")
    domain = portal_domains.add(db, settings, ws.id, PORTAL)
    dns_server.cname(PORTAL, INSTANCE)
    dns_server.txt(domain.txt_name, domain.verify_token)
    assert portal_domains.verify(db, settings, ws.id).verified
    db.conn.close()

    server = start_live_server(
        data_dir, {"BACKSTOP_SECRET_KEY": "c" * 48, "BACKSTOP_BASE_URL": f"https://{INSTANCE}"}
    )
    http_port, https_port = free_port(), free_port()
    config = tmp_path / "Caddyfile"
    asked: list[str] = []
    proxy = _recording_proxy(server.url, asked)
    ask = f"http://127.0.0.1:{proxy.server_address[1]}"
    config.write_text(_caddyfile(server.url, ask, http_port, https_port, tmp_path / "caddy-data"))
    log = tmp_path / "caddy.log"
    env = {
        "HOME": str(tmp_path),
        "XDG_DATA_HOME": str(tmp_path / "xdg-data"),
        "XDG_CONFIG_HOME": str(tmp_path / "xdg-config"),
    }
    with log.open("wb") as out:
        caddy = subprocess.Popen(
            [need("caddy"), "run", "--config", str(config), "--adapter", "caddyfile"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        _wait_port(https_port, caddy, log)
        ok, response = _handshake(https_port, PORTAL)
        assert ok, log.read_text()
        assert response.startswith(b"HTTP/1.1 200") and b"window.Backstop" in response

        refused, _ = _handshake(https_port, "stranger.example.test")
        assert not refused
        assert asked == [PORTAL, "stranger.example.test"]  # Caddy asked before each certificate
    finally:
        caddy.terminate()
        caddy.wait(timeout=10)
        proxy.shutdown()
        proxy.server_close()
        server.stop()
