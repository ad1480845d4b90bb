"""All of the web wiring in one place: ``create_app(settings)``."""

from __future__ import annotations

import logging

from litestar import Litestar, Router
from litestar.datastructures import State
from litestar.di import Provide
from litestar.file_system import BaseLocalFileSystem
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template import TemplateConfig

from backstop import __version__, manifest
from backstop.db import migrate
from backstop.db.serving import ServingLock
from backstop.lib.crypto import SecretBox
from backstop.lib.filemodes import private_dir
from backstop.lib.ratelimit import FixedWindowLimiter
from backstop.paths import static_dir, templates_dir
from backstop.settings import Settings, ensure_secret_key
from backstop.web import headers, health
from backstop.web.admin import (
    auth,
    branding_pages,
    cancel_flow_pages,
    cancel_flow_version_pages,
    cancel_runtime_pages,
    customers,
    data_pages,
    demo_pages,
    desktop_login,
    email_pages,
    embed_pages,
    embed_settings_pages,
    notification_pages,
    portal_domain_pages,
    recovery_pages,
    recovery_settings_pages,
    send_domain_pages,
    settings_pages,
    stripe_pages,
    webhook_pages,
    workspace_pages,
)
from backstop.web.admin.common import current_session, current_workspace
from backstop.web.api.routes import api_router, embed_router
from backstop.web.csrf import CSRFMiddleware
from backstop.web.errors import EXCEPTION_HANDLERS
from backstop.web.hooks import ses as ses_hooks
from backstop.web.hooks import stripe as stripe_hooks
from backstop.web.hosts import host_routing
from backstop.web.public import (
    cancel,
    embed_script,
    portal,
    tls,
    unsubscribe,
    update_card,
    wall,
    winback,
)
from backstop.web.state import WALL_CHECKS_PER_MINUTE, AppState, provide_db

log = logging.getLogger("backstop")

MAX_BODY_BYTES = 1024 * 1024


class StaticFiles(BaseLocalFileSystem):
    """The packaged static files. A path with a NUL byte or a name longer than the file system
    allows names no file: a 404, not the 500 the stat error would give."""

    async def info(self, path, **kwargs):
        try:
            return await super().info(path, **kwargs)
        except FileNotFoundError:
            raise
        except (ValueError, OSError) as exc:
            raise FileNotFoundError(str(path)) from exc


def _template_engine(engine: JinjaTemplateEngine) -> None:
    from backstop.web import filters

    filters.install(engine.engine)


def create_app(settings: Settings, *, run_jobs: bool = True) -> Litestar:
    """Build the application. ``run_jobs=False`` runs tasks inline (tests, one-off tools)."""
    from jobs import queue

    private_dir(settings.data_dir)
    settings = ensure_secret_key(settings)
    migrate(settings.db_path)
    queue.configure(settings, immediate=not run_jobs)
    manifest.load()

    state = AppState(
        settings=settings,
        box=SecretBox(settings.secret_key),
        api_limiter=FixedWindowLimiter(settings.api_rate_limit),
        unauthenticated_limiter=FixedWindowLimiter(max(settings.api_rate_limit, 60)),
        wall_limiter=FixedWindowLimiter(WALL_CHECKS_PER_MINUTE),
    )
    consumer_box: dict = {}

    def start_jobs() -> None:
        if run_jobs:
            # One server per data folder: a second one's jobs would run the same work twice.
            lock = ServingLock(settings.data_dir)
            lock.acquire()
            consumer_box["serving"] = lock
            consumer_box["consumer"] = queue.start_consumer(settings.jobs_workers)
            from jobs.sweeper import sweep_on_start

            sweep_on_start()

    def stop_jobs(app: Litestar) -> None:
        inbox = getattr(app.state, "stripe_inbox", None)
        if inbox is not None:  # requests have been answered: let its writer thread go
            inbox.close()
        consumer = consumer_box.pop("consumer", None)
        if consumer is not None:
            queue.stop_consumer(consumer)
        lock = consumer_box.pop("serving", None)
        if lock is not None:
            lock.release()

    admin_router = Router(
        path="/",
        include_in_schema=False,
        after_request=headers.hook(headers.admin(settings)),
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
            *cancel_runtime_pages.handlers,
            *cancel_flow_pages.handlers,
            *cancel_flow_version_pages.handlers,
            *webhook_pages.handlers,
            *data_pages.handlers,
            *notification_pages.handlers,
            *demo_pages.handlers,
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
            embed_router,
            create_static_files_router(
                path="/static",
                directories=[static_dir()],
                include_in_schema=False,
                name="static",
                file_system=StaticFiles(),
                after_request=headers.hook(headers.static()),
            ),
        ],
        dependencies={"db": Provide(provide_db)},
        state=State({"backstop": state}),
        template_config=TemplateConfig(
            directory=templates_dir(), engine=JinjaTemplateEngine, engine_callback=_template_engine
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
        # Host routing first: a request for an unknown host is a 404 before anything else runs.
        middleware=[host_routing(settings), DefineMiddleware(CSRFMiddleware, settings=settings)],
        on_startup=[start_jobs],
        on_shutdown=[stop_jobs],
        debug=False,
        # Logging is configured once by the server (backstop.server.configure_logging).
        logging_config=None,
    )
