"""Running the web server and the jobs consumer together in one process."""

from __future__ import annotations

import logging
import signal
import sys

import uvicorn

from backstop.checks import run_startup_checks
from backstop.settings import ConfigError, Settings


def configure_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    quiet = max(logging.WARNING, logging.getLevelName(level.upper()))
    # Libraries that log every request at INFO: only their warnings, unless debugging.
    for name in ("huey", "stripe", "httpx", "httpcore", "botocore"):
        logging.getLogger(name).setLevel(quiet)


def build_server(settings: Settings, *, check_port: bool = True) -> uvicorn.Server:
    from backstop.db import serving
    from backstop.web.app import create_app

    # The app takes the folder when it starts; this says so before anything else is set up.
    if serving.is_served(settings.data_dir):
        raise ConfigError(serving.already_served_message(settings.data_dir))
    settings = run_startup_checks(settings, check_port=check_port)
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        lifespan="on",
        # X-Forwarded-For/-Proto name the visitor only when a proxy the operator listed sent
        # them; from anyone else they are ignored (a local client could otherwise pose as any
        # address and slip past the sign-in limits).
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=list(settings.trusted_proxies) or "",
        server_header=False,
        timeout_graceful_shutdown=20,
    )
    return uvicorn.Server(config)


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def serve(settings: Settings) -> None:
    configure_logging(settings.log_level)
    server = build_server(settings)
    log = logging.getLogger("backstop")
    log.info("Backstop admin at %s", settings.public_url)
    # Once it has shut down gracefully, uvicorn raises the stop signal again against the
    # process, which turns a clean stop into "Aborted!" and exit 1 (Ctrl-C) or death by SIGTERM
    # (exit 143 under Docker). A stop that was asked for and completed is a success, so that
    # replay lands on handlers that ignore it. uvicorn installs its own while it runs.
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in STOP_SIGNALS}
    try:
        server.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if not server.started:
        log.error("Backstop did not start; the messages above say why.")
        sys.exit(3)
    log.info("Backstop stopped")
