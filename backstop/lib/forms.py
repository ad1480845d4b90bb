"""The one shape of "what is wrong with this form": messages by field name.

Domain functions that read a submitted form (``parse_*``) return the clean value or raise
``FieldErrors``; a page shows each message next to its field (``"form"`` for the whole form).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

FORM = "form"  # a problem with the whole form rather than one field


class FieldErrors(Exception):
    def __init__(self, errors: Mapping[str, str] | None = None) -> None:
        self.errors: dict[str, str] = dict(errors or {})
        super().__init__(self.message)

    def add(self, field: str | None, message: str) -> None:
        """Record a problem; the first one for a field is the one shown."""
        self.errors.setdefault(field or FORM, message)
        self.args = (self.message,)

    def update(self, other: FieldErrors | Mapping[str, str]) -> None:
        for field, message in (other.errors if isinstance(other, FieldErrors) else other).items():
            self.add(field, message)

    def raise_if_any(self) -> None:
        if self.errors:
            raise self

    @property
    def message(self) -> str:
        return next(iter(self.errors.values()), "")

    @property
    def field(self) -> str | None:
        field = next(iter(self.errors), None)
        return None if field == FORM else field

    def __bool__(self) -> bool:
        return bool(self.errors)

    def __contains__(self, field: object) -> bool:
        return field in self.errors

    def __getitem__(self, field: str) -> str:
        return self.errors[field]

    def __iter__(self) -> Iterator[str]:
        return iter(self.errors)

    def get(self, field: str, default: str | None = None) -> str | None:
        return self.errors.get(field, default)

    def items(self):
        return self.errors.items()

    def values(self):
        return self.errors.values()
