"""Everything a workspace owns, as files: one CSV or JSON Lines file per table, a README.txt
that describes every file and column, and a manifest.json with the row counts.

Each domain describes its own tables (``<domain>/export.py``); this module only gathers them and
writes them, to a folder (``backstop export``) or as a zip streamed to the browser (Settings →
Data). Secrets (keys, signing secrets, token hashes, the embed secret) are in no domain's list.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlite_utils import Database

from backstop import clock
from backstop.cancel_flows import export as cancel_flows_export
from backstop.email import export as email_export
from backstop.embed import export as embed_export
from backstop.lib.exports import ExportTable
from backstop.lib.filemodes import private_dir
from backstop.recovery import export as recovery_export
from backstop.reporting import export as reporting_export
from backstop.stripe_sync import export as stripe_export
from backstop.webhooks_out import export as webhooks_export
from backstop.workspaces import export as workspaces_export

FORMATS = ("csv", "jsonl")

# The order of the README and the zip: who the workspace is, its customers, then what Backstop did.
DOMAINS = (
    workspaces_export,
    stripe_export,
    recovery_export,
    email_export,
    cancel_flows_export,
    webhooks_export,
    embed_export,
    reporting_export,
)


class ExportError(Exception):
    pass


@dataclass(frozen=True)
class Workspace:
    id: int
    slug: str
    name: str


@contextmanager
def _snapshot(db: Database) -> Iterator[None]:
    """Every table read as of one moment, so a delivery never names an event the export lacks.
    A savepoint opened outside a transaction starts a read transaction (this one never writes);
    on a WAL database writers carry on meanwhile."""
    db.execute("SAVEPOINT export_snapshot")
    try:
        yield
    finally:
        db.execute("RELEASE export_snapshot")


def tables(db: Database, workspace_id: int) -> list[ExportTable]:
    return [t for domain in DOMAINS for t in domain.export_tables(db, workspace_id)]


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value):
    """A text cell a spreadsheet would run as a formula (a customer's "=HYPERLINK(…)" in a cancel
    reason) gets a leading apostrophe, so it is shown, not run. Numbers are left alone."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _csv_chunks(table: ExportTable) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(table.column_names)
    for n, row in enumerate(table.rows(), 1):
        writer.writerow([_csv_cell(v) for v in row])
        if n % 500 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _jsonl_chunks(table: ExportTable) -> Iterator[str]:
    names = table.column_names
    lines = []
    for row in table.rows():
        lines.append(json.dumps(dict(zip(names, row, strict=True)), ensure_ascii=False) + "\n")
        if len(lines) == 500:
            yield "".join(lines)
            lines = []
    yield "".join(lines)


def _file_chunks(table: ExportTable, fmt: str) -> Iterator[str]:
    return _csv_chunks(table) if fmt == "csv" else _jsonl_chunks(table)


def readme(workspace: Workspace, fmt: str, exported_at: str, counts: dict[str, int], all_tables) -> str:
    kind = (
        "CSV (comma-separated, UTF-8, a header row, empty cell for no value; a text cell that\n"
        "starts with = + - or @ gets a leading ' so a spreadsheet shows it instead of running it)"
        if fmt == "csv"
        else "JSON Lines (one JSON object per line, UTF-8, null for no value)"
    )
    lines = [
        f"Backstop export of the workspace {workspace.name} ({workspace.slug})",
        f"Exported at {exported_at} (UTC).",
        "",
        f"Each file is {kind}.",
        "Money is in minor units of its currency (cents for USD). Times ending in _at are UTC",
        "ISO-8601; Stripe's own times (created, paid_at, ...) are Unix seconds as Stripe gives them.",
        "Secrets (Stripe keys, webhook signing secrets, API token hashes, the embed secret) are",
        "never exported. manifest.json lists the same files with their row counts.",
        "",
    ]
    for table in all_tables:
        file = f"{table.name}.{fmt}"
        rows = counts.get(table.name, 0)
        lines += [f"{file} ({rows} {'row' if rows == 1 else 'rows'})", f"  {table.description}"]
        width = max(len(name) for name in table.column_names)
        lines += [f"  - {name.ljust(width)}  {text}" for name, text in table.columns]
        lines.append("")
    return "\n".join(lines)


def _manifest(workspace: Workspace, fmt: str, exported_at: str, counts: dict[str, int], all_tables) -> str:
    return json.dumps(
        {
            "workspace": {"slug": workspace.slug, "name": workspace.name},
            "format": fmt,
            "exported_at": exported_at,
            "files": [
                {
                    "file": f"{t.name}.{fmt}",
                    "description": t.description,
                    "rows": counts.get(t.name, 0),
                    "columns": [{"name": n, "description": d} for n, d in t.columns],
                }
                for t in all_tables
            ],
        },
        indent=2,
        ensure_ascii=False,
    )


def _check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise ExportError(f"The format must be csv or jsonl, not {fmt!r}.")


def _counting(table: ExportTable, fmt: str, counts: dict[str, int]) -> Iterator[str]:
    # Rows are counted as they are written: the README goes last, once every count is known.
    counts[table.name] = 0
    original = table.rows

    def rows():
        for row in original():
            counts[table.name] += 1
            yield row

    return _file_chunks(ExportTable(table.name, table.description, table.columns, rows), fmt)


def export_to_dir(db: Database, workspace: Workspace, fmt: str, out: Path) -> list[Path]:
    """Write every file into ``out`` (created 0700 if missing; it must hold no files yet)."""
    _check_format(fmt)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ExportError(f"{out} is not an empty folder; pick a new or empty one.")
    try:
        private_dir(out)
    except OSError as exc:
        raise ExportError(f"Cannot create {out} ({exc.strerror}); pick a folder you can write to.")
    exported_at = clock.iso(clock.now())
    counts: dict[str, int] = {}
    all_tables = tables(db, workspace.id)
    written = []
    with _snapshot(db):
        for table in all_tables:
            path = out / f"{table.name}.{fmt}"
            with path.open("w", encoding="utf-8", newline="") as f:
                for chunk in _counting(table, fmt, counts):
                    f.write(chunk)
            written.append(path)
    for name, text in (
        ("README.txt", readme(workspace, fmt, exported_at, counts, all_tables)),
        ("manifest.json", _manifest(workspace, fmt, exported_at, counts, all_tables)),
    ):
        (out / name).write_text(text, encoding="utf-8")
        written.append(out / name)
    for path in written:
        path.chmod(0o600)
    return written


class _Pipe(io.RawIOBase):
    """A write-only, unseekable stream whose bytes the zip generator hands on as they come."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.chunks.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        data = b"".join(self.chunks)
        self.chunks.clear()
        return data


def zip_name(workspace: Workspace, fmt: str) -> str:
    return f"backstop-{workspace.slug}-{clock.now().strftime('%Y%m%d')}-{fmt}.zip"


def export_zip(db: Database, workspace: Workspace, fmt: str) -> Iterator[bytes]:
    """The same files as ``export_to_dir`` in one zip, produced piece by piece so that a large
    workspace never sits in memory whole."""
    _check_format(fmt)
    folder = zip_name(workspace, fmt).removesuffix(".zip")
    exported_at = clock.iso(clock.now())
    counts: dict[str, int] = {}
    all_tables = tables(db, workspace.id)
    pipe = _Pipe()
    with _snapshot(db), zipfile.ZipFile(pipe, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for table in all_tables:
            with zf.open(f"{folder}/{table.name}.{fmt}", "w") as member:
                for chunk in _counting(table, fmt, counts):
                    member.write(chunk.encode("utf-8"))
                    data = pipe.take()
                    if data:
                        yield data
        zf.writestr(f"{folder}/README.txt", readme(workspace, fmt, exported_at, counts, all_tables))
        zf.writestr(f"{folder}/manifest.json", _manifest(workspace, fmt, exported_at, counts, all_tables))
    yield pipe.take()


def stream_zip(db_path: Path, workspace: Workspace, fmt: str) -> Iterator[bytes]:
    """``export_zip`` on a connection of its own, opened when the first piece is asked for and
    closed after the last: a response streams on after the request's own connection is closed."""
    _check_format(fmt)
    from backstop.db import connect

    db = connect(db_path)
    try:
        yield from export_zip(db, workspace, fmt)
    finally:
        db.conn.close()
