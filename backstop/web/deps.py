"""Type aliases that mark handler parameters as injected by name (Litestar's NamedDependency)."""

from litestar.di import NamedDependency
from sqlite_utils import Database

from backstop.workspaces.admins import Session
from backstop.workspaces.workspaces import Workspace

DB = NamedDependency[Database]
CurrentSession = NamedDependency[Session]
CurrentWorkspace = NamedDependency[Workspace]
