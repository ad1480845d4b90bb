"""Running the web server and the jobs consumer together in one process."""

from __future__ import annotations

import logging

import uvicorn

from backstop.checks import run_startup_checks
from backstop.settings import Settings


def configure_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("huey").setLevel(max(logging.WARNING, logging.getLevelName(level.upper())))


def build_server(settings: Settings, *, check_port: bool = True) -> uvicorn.Server:
    from backstop.web.app import create_app

    settings = run_startup_checks(settings, check_port=check_port)
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        lifespan="on",
        proxy_headers=True,
        server_header=False,
        timeout_graceful_shutdown=20,
    )
    return uvicorn.Server(config)


def serve(settings: Settings) -> None:
    configure_logging(settings.log_level)
    server = build_server(settings)
    logging.getLogger("backstop").info("Backstop admin at %s", settings.public_url)
    server.run()
