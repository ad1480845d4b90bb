"""Online backups of both databases with SQLite's backup API (safe while serving)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from rich.progress import Progress

from backstop import clock
from backstop.lib.filemodes import private_dir, private_file
from backstop.settings import Settings


class BackupError(Exception):
    pass


def backup_databases(settings: Settings, target: Path, *, progress: bool = False) -> list[Path]:
    sources = [p for p in (settings.db_path, settings.jobs_db_path) if p.exists()]
    if not sources:
        raise BackupError(f"There is no database in {settings.data_dir} to back up; check BACKSTOP_DATA_DIR.")
    try:
        created = not target.exists()
        target.mkdir(parents=True, exist_ok=True)
        if created:
            private_dir(target)
    except OSError as exc:
        raise BackupError(f"Cannot create {target} ({exc.strerror}); pick a folder you can write to.")
    if target.resolve() == settings.data_dir.resolve():
        raise BackupError("The backup folder is the data folder itself; pick another folder.")
    stamp = clock.now().strftime("%Y%m%dT%H%M%SZ")
    written = []
    with Progress(disable=not progress, transient=True) as bar:
        for source in sources:
            dest = target / f"{source.stem}-{stamp}.db"
            task = bar.add_task(f"Backing up {source.name}", total=100)

            def report(status: int, remaining: int, total: int, task=task) -> None:
                bar.update(task, completed=100 * (total - remaining) / max(total, 1))

            # as_uri() percent-encodes the path: a raw '#' or '?' in a folder name would cut the
            # URI short and open (and create) some other, empty database.
            src = sqlite3.connect(source.resolve().as_uri() + "?mode=ro", uri=True)
            dst = sqlite3.connect(private_file(dest))
            try:
                src.backup(dst, pages=256, progress=report)
            except sqlite3.Error as exc:
                dst.close()
                dest.unlink(missing_ok=True)
                raise BackupError(f"Backing up {source.name} failed ({exc}); nothing was overwritten.")
            finally:
                dst.close()
                src.close()
            written.append(dest)
    return written
