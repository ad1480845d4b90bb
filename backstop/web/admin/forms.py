"""A settings page is its form, its parse call and its template.

``SettingsPage`` renders one settings template with the page's own facts (``context``), the
values in the form (saved ones, or what was just submitted) and the errors of a failed submit, as
``FieldErrors`` from a domain ``parse_*`` function::

    RETRY_POLICY = SettingsPage("admin/settings_retry_policy.html", "retry-policy", _policy_context)

    @post(...)
    def save_retry_policy(request, db, session, workspace, data: Form):
        try:
            policy = parse_retry_policy(campaigns.get_policy(db, workspace.id), data)
        except FieldErrors as exc:
            return RETRY_POLICY.invalid(request, db, session, workspace, exc, values=data)
        ...
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from litestar import Request
from litestar.response import Template
from sqlite_utils import Database

from backstop.lib.forms import FieldErrors
from backstop.web.admin.common import render
from backstop.workspaces.admins import Session
from backstop.workspaces.workspaces import Workspace


@dataclass(frozen=True)
class SettingsPage:
    template: str
    subnav: str
    # The page's facts for this workspace; must include "values", the saved form values.
    context: Callable[[Database, Workspace], dict[str, Any]]

    def show(
        self,
        request: Request,
        db: Database,
        session: Session,
        workspace: Workspace,
        *,
        values: dict | None = None,
        errors: FieldErrors | None = None,
        notice: str | None = None,
        status_code: int = 200,
        **extra: Any,
    ) -> Template:
        facts = self.context(db, workspace)
        if values is not None:
            facts["values"] = {**facts.get("values", {}), **values}
        return render(
            request,
            self.template,
            db=db,
            session=session,
            workspace=workspace,
            nav="settings",
            subnav=self.subnav,
            errors=dict(errors.errors) if errors else {},
            notice=notice,
            status_code=status_code,
            **{**facts, **extra},
        )

    def saved(self, request: Request, db: Database, session: Session, workspace: Workspace, notice: str):
        """The page after a redirect: ``?saved=1`` shows ``notice``."""
        shown = notice if request.query_params.get("saved") else None
        return self.show(request, db, session, workspace, notice=shown)

    def invalid(
        self,
        request: Request,
        db: Database,
        session: Session,
        workspace: Workspace,
        errors: FieldErrors,
        *,
        values: dict | None = None,
        **extra: Any,
    ) -> Template:
        """The form again with what was submitted and a sentence next to each wrong field."""
        return self.show(
            request, db, session, workspace, values=values, errors=errors, status_code=400, **extra
        )
