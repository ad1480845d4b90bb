"""All of the web wiring in one place: ``create_app(settings)``."""

from __future__ import annotations

import logging

from litestar import Litestar, Response, Router
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template import TemplateConfig

from backstop import __version__, manifest
from backstop.db import migrate
from backstop.lib.crypto import SecretBox
from backstop.lib.ratelimit import FixedWindowLimiter
from backstop.paths import static_dir, templates_dir
from backstop.settings import Settings, ensure_secret_key
from backstop.web import health
from backstop.web.admin import (
    auth,
    branding_pages,
    cancel_flow_pages,
    cancel_flow_version_pages,
    customers,
    desktop_login,
    email_pages,
    embed_pages,
    embed_settings_pages,
    portal_domain_pages,
    recovery_pages,
    recovery_settings_pages,
    send_domain_pages,
    settings_pages,
    stripe_pages,
    upcoming,
    workspace_pages,
)
from backstop.web.admin.common import current_session, current_workspace
from backstop.web.api.routes import api_router
from backstop.web.errors import EXCEPTION_HANDLERS
from backstop.web.hooks import ses as ses_hooks
from backstop.web.hooks import stripe as stripe_hooks
from backstop.web.hosts import host_routing
from backstop.web.public import (
    cancel,
    embed_script,
    framing,
    portal,
    tls,
    unsubscribe,
    update_card,
    wall,
    winback,
)
from backstop.web.state import AppState, provide_db

log = logging.getLogger("backstop")

MAX_BODY_BYTES = 1024 * 1024

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"
    ),
}


def _security_headers(response: Response) -> Response:
    framing.apply_defaults(response.headers, SECURITY_HEADERS)
    return response


def _template_engine(engine: JinjaTemplateEngine) -> None:
    from backstop.web import filters

    filters.install(engine.engine)


def create_app(settings: Settings, *, run_jobs: bool = True) -> Litestar:
    """Build the application. ``run_jobs=False`` runs tasks inline (tests, one-off tools)."""
    from jobs import queue

    settings = ensure_secret_key(settings)
    migrate(settings.db_path)
    queue.configure(settings, immediate=not run_jobs)
    manifest.load()

    state = AppState(
        settings=settings,
        box=SecretBox(settings.secret_key),
        api_limiter=FixedWindowLimiter(settings.api_rate_limit),
        unauthenticated_limiter=FixedWindowLimiter(max(settings.api_rate_limit, 60)),
    )
    consumer_box: dict = {}

    def start_jobs() -> None:
        if run_jobs:
            consumer_box["consumer"] = queue.start_consumer(settings.jobs_workers)
            from jobs.sweeper import sweep_on_start

            sweep_on_start()

    def stop_jobs() -> None:
        consumer = consumer_box.pop("consumer", None)
        if consumer is not None:
            queue.stop_consumer(consumer)

    admin_router = Router(
        path="/",
        include_in_schema=False,
        after_request=_security_headers,
        dependencies={
            "session": Provide(current_session, sync_to_thread=True),
            "workspace": Provide(current_workspace, sync_to_thread=True),
        },
        route_handlers=[
            auth.setup_page,
            auth.setup_submit,
            auth.login_page,
            auth.login_submit,
            auth.logout,
            desktop_login.desktop_login,
            workspace_pages.home,
            workspace_pages.new_workspace_page,
            workspace_pages.new_workspace_submit,
            workspace_pages.workspace_root,
            workspace_pages.overview,
            workspace_pages.toggle_embed_step,
            settings_pages.settings_general,
            settings_pages.rename,
            settings_pages.rotate_secret,
            settings_pages.members_page,
            settings_pages.add_member,
            settings_pages.change_role,
            settings_pages.remove_member,
            settings_pages.tokens_page,
            settings_pages.create_token,
            settings_pages.revoke_token,
            *stripe_pages.handlers,
            *email_pages.handlers,
            *send_domain_pages.handlers,
            *branding_pages.handlers,
            *embed_pages.handlers,
            *embed_settings_pages.handlers,
            *portal_domain_pages.handlers,
            *customers.handlers,
            *recovery_pages.handlers,
            *recovery_settings_pages.handlers,
            *cancel_flow_pages.handlers,
            *cancel_flow_version_pages.handlers,
            *upcoming.handlers,
        ],
    )

    return Litestar(
        route_handlers=[
            health.healthz,
            stripe_hooks.workspace_webhook,
            stripe_hooks.platform_webhook,
            ses_hooks.ses_notifications,
            *unsubscribe.handlers,
            *update_card.handlers,
            *cancel.handlers,
            *embed_script.handlers,
            *portal.handlers,
            *wall.handlers,
            *tls.handlers,
            *winback.handlers,
            admin_router,
            api_router,
            create_static_files_router(
                path="/static", directories=[static_dir()], include_in_schema=False, name="static"
            ),
        ],
        dependencies={"db": Provide(provide_db)},
        state=State({"backstop": state}),
        template_config=TemplateConfig(
            directory=templates_dir(), engine=JinjaTemplateEngine, engine_callback=_template_engine
        ),
        csrf_config=CSRFConfig(
            secret=settings.secret_key,
            cookie_name="backstop_csrf",
            cookie_secure=settings.cookies_secure,
            cookie_httponly=True,
            # Hosted customer pages carry their own per-page form tokens: inside embed.js's modal
            # on another site the browser may withhold the CSRF cookie.
            exclude=[
                "^/api/",
                "^/stripe/",
                "^/hooks/",
                "^/healthz",
                "^/u/",
                "^/update-card/",
                "^/card/",
                "^/portal/",
                "^/wall/",
                "^/cancel/",
            ],
        ),
        openapi_config=OpenAPIConfig(
            title="Backstop REST API",
            version=__version__,
            # Its own router at the document's address: at path="/api/v1" Litestar would also
            # claim every other /api/v1 address with an HTML 404 that skips token checks.
            openapi_router=Router("/api/v1/openapi.json", route_handlers=[], include_in_schema=False),
            render_plugins=[JsonRenderPlugin(path="/")],
            components=Components(
                security_schemes={
                    "bearerAuth": SecurityScheme(
                        type="http",
                        scheme="bearer",
                        description="A workspace's API token, bk_test_… or bk_live_….",
                    )
                }
            ),
            description="Pull campaigns, customers, cancel sessions and stats. Authenticate with "
            "`Authorization: Bearer bk_test_…` (tokens are minted under Settings → API tokens).",
        ),
        exception_handlers=EXCEPTION_HANDLERS,
        request_max_body_size=MAX_BODY_BYTES,
        middleware=[host_routing(settings)],
        on_startup=[start_jobs],
        on_shutdown=[stop_jobs],
        debug=False,
        # Logging is configured once by the server (backstop.server.configure_logging).
        logging_config=None,
    )
