"""The route table and what a handler receives.

Handlers are plain functions `handler(ctx) -> dict` registered with `@route(...)`. Each route names
the restricted-key resource it needs so permission checks happen before the handler runs.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import errors
from .encoding import expand_list
from .render import list_response, render
from .state import Key, State, Store


@dataclass
class Ctx:
    state: State
    store: Store
    params: dict[str, Any]
    path: dict[str, str]
    method: str
    url_path: str
    key: Key | None
    account: str
    request_id: str
    base_url: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def expand(self) -> list[str]:
        return expand_list(self.params)

    def allow(self, *names: str) -> None:
        """Stripe rejects parameters it doesn't know; so does the fake, per endpoint."""
        known = {"expand", *names}
        for name in self.params:
            if name not in known:
                raise errors.unknown_param(name)

    def require(self, name: str) -> Any:
        value = self.params.get(name)
        if value in (None, ""):
            raise errors.missing_param(name)
        return value

    def render(self, obj: dict[str, Any]) -> dict[str, Any]:
        return render(self.store, obj, self.expand)

    def list(self, objects: Any, url: str | None = None) -> dict[str, Any]:
        return list_response(self.store, objects, self.params, url or self.url_path, self.expand)


Handler = Callable[[Ctx], Any]


@dataclass
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    resource: str | None
    access: str
    publishable: bool


ROUTES: list[Route] = []


def route(
    method: str,
    template: str,
    resource: str | None,
    access: str | None = None,
    *,
    publishable: bool = False,
) -> Callable[[Handler], Handler]:
    regex = "^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template) + "$"

    def register(handler: Handler) -> Handler:
        ROUTES.append(
            Route(
                method,
                re.compile(regex),
                handler,
                resource,
                access or ("read" if method == "GET" else "write"),
                publishable,
            )
        )
        return handler

    return register


def match(method: str, path: str) -> tuple[Route, dict[str, str]]:
    path_known = False
    for candidate in ROUTES:
        found = candidate.pattern.match(path)
        if found:
            path_known = True
            if candidate.method == method:
                return candidate, found.groupdict()
    if path_known:
        raise errors.invalid_request(f"Unrecognized request URL ({method}: {path}).")
    raise errors.unknown_route(method, path)
