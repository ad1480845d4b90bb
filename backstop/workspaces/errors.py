from backstop.lib.forms import FieldErrors


class ValidationError(FieldErrors):
    """Input a person can fix; ``field`` names the form field it belongs to. One problem of the
    ``FieldErrors`` kind, so pages show every domain's errors the same way."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__({field or "form": message})


class NotFound(Exception):
    pass


class PermissionDenied(Exception):
    pass
