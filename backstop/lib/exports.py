"""The shape of one exported table: a file name, what it holds, its columns described, its rows.

Each domain describes the tables it owns (``<domain>/export.py``); ``backstop.export`` gathers
them and writes CSV, JSON Lines and the README. Columns are listed one by one, never ``*``: a
column added later (a secret, say) stays out of the export until someone lists it here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from sqlite_utils import Database


@dataclass(frozen=True)
class ExportTable:
    name: str  # the file's stem: customers → customers.csv
    description: str
    columns: tuple[tuple[str, str], ...]  # (column, what it means)
    rows: Callable[[], Iterator[Sequence]]  # each row's values in the order of ``columns``

    @property
    def column_names(self) -> list[str]:
        return [name for name, _ in self.columns]


def select_table(
    db: Database,
    name: str,
    description: str,
    columns: Sequence[tuple[str, str, str] | tuple[str, str]],
    source: str,
    where: str,
    params: Sequence,
    order: str,
    aliases: dict[str, str] | None = None,
) -> ExportTable:
    """A table read by one SELECT. Each column is ``(name, description)`` or ``(name,
    description, sql expression)``; ``aliases`` maps a column to its SQL expression too.
    ``source``, ``where``, ``order`` and the expressions are code constants."""
    aliases = aliases or {}
    exprs = [c[2] if len(c) == 3 else aliases.get(c[0], c[0]) for c in columns]
    sql = f"SELECT {', '.join(exprs)} FROM {source} WHERE {where} ORDER BY {order}"  # noqa: S608

    def rows() -> Iterator[Sequence]:
        for row in db.execute(sql, list(params)):
            yield tuple(row)

    return ExportTable(name, description, tuple((c[0], c[1]) for c in columns), rows)
