"""`backstop serve` runs on uvicorn's C HTTP parser and uvloop (both are dependencies), the stack
the ingest figures in bench/README.md were measured on. Without them uvicorn would quietly fall
back to h11 on asyncio's loop, at about half the webhooks per second."""

from __future__ import annotations

import asyncio
import sys

import pytest

from backstop.server import build_server


def test_the_server_parses_http_with_httptools(settings):
    server = build_server(settings, check_port=False)
    server.config.load()
    assert server.config.http_protocol_class.__module__ == "uvicorn.protocols.http.httptools_impl"


@pytest.mark.skipif(sys.platform == "win32", reason="uvloop has no Windows build; asyncio's loop runs there")
def test_the_server_runs_on_uvloop(settings):
    server = build_server(settings, check_port=False)
    loop = server.config.get_loop_factory()()
    try:
        assert type(loop).__module__.startswith("uvloop")
        assert loop.run_until_complete(asyncio.sleep(0, result="ran")) == "ran"
    finally:
        loop.close()
