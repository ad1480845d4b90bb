"""`backstop serve` stops web and jobs cleanly on Ctrl-C and on SIGTERM (docker stop, systemd)."""

from __future__ import annotations

import signal

import httpx
import pytest


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_serve_stops_cleanly_on_a_signal(live_server, sig):
    assert httpx.get(live_server.url + "/healthz", timeout=5).json() == {"status": "ok"}

    code = live_server.stop(sig, timeout=15)

    log = (live_server.data_dir / "server.log").read_text()
    assert code == 0, log
    assert "jobs consumer stopped" in log
    assert "Application shutdown complete" in log
    assert "Traceback" not in log
    assert "Aborted" not in log
    with pytest.raises(httpx.ConnectError):
        httpx.get(live_server.url + "/healthz", timeout=2)
