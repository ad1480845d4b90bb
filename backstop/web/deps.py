"""Type aliases that mark handler parameters as injected by name (Litestar's NamedDependency)."""

from typing import Annotated

from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body
from sqlite_utils import Database

from backstop.workspaces.admins import Session
from backstop.workspaces.workspaces import Workspace

DB = NamedDependency[Database]
CurrentSession = NamedDependency[Session]
CurrentWorkspace = NamedDependency[Workspace]

# A submitted HTML form (application/x-www-form-urlencoded), field name to value.
Form = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]
