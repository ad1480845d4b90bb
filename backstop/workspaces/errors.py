class ValidationError(Exception):
    """Input a person can fix; ``field`` names the form field it belongs to."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(Exception):
    pass


class PermissionDenied(Exception):
    pass
