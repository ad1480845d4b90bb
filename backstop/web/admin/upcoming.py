"""Pages whose capability has not shipped yet. Each says so plainly and what it will do."""

from __future__ import annotations

from litestar import Request, get
from litestar.params import FromPath
from litestar.response import Template

from backstop.web.admin.common import render
from backstop.web.deps import DB, CurrentSession, CurrentWorkspace

# path suffix -> (nav, subnav, title, what the page will do)
UPCOMING: dict[str, tuple[str, str, str, str]] = {
    "cancel-flows/embed": (
        "cancel-flows",
        "",
        "Embed on your site",
        "The copy-paste snippet for embed.js, backend signer samples and the curl check.",
    ),
    "settings/portal-domain": (
        "settings",
        "portal-domain",
        "Portal domain",
        "Serve cancel, portal and update-card pages from your own subdomain.",
    ),
}


def _make(suffix: str, nav: str, subnav: str, title: str, description: str):
    @get(f"/w/{{slug:str}}/{suffix}", sync_to_thread=True, name=f"upcoming:{suffix}")
    def page(
        request: Request, slug: FromPath[str], db: DB, session: CurrentSession, workspace: CurrentWorkspace
    ) -> Template:
        return render(
            request,
            "admin/not_built.html",
            db=db,
            session=session,
            workspace=workspace,
            nav=nav,
            subnav=subnav,
            title=title,
            description=description,
        )

    return page


handlers = [_make(suffix, *spec) for suffix, spec in UPCOMING.items()]
