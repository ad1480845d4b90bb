"""The embed tests sign in like the admin tests do."""

from tests.web.admin.conftest import as_marco, as_olivia, marco_in_acme  # noqa: F401
from tests.workspaces.conftest import fast_password_hashing  # noqa: F401
