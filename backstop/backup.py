"""Online backups of both databases with SQLite's backup API (safe while serving)."""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from rich.progress import Progress

from backstop import clock
from backstop.db import serving
from backstop.lib.filemodes import SQLITE_SIDECARS, private_dir, private_file
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


@dataclass(frozen=True)
class Restored:
    db_path: Path
    workspaces: int
    warning: str | None


def _check_backup(file: Path) -> int:
    """The number of workspaces in a readable, intact Backstop database; BackupError otherwise."""
    from backstop.db.migrations import migrations

    if not file.is_file():
        raise BackupError(f"There is no file {file}; give the backstop-….db file 'backstop backup' wrote.")
    try:
        with file.open("rb") as fh:
            header = fh.read(16)
    except OSError as exc:
        raise BackupError(f"Cannot read {file} ({exc.strerror}).")
    if header != b"SQLite format 3\x00":
        raise BackupError(
            f"{file} is not a SQLite database; give the backstop-….db file 'backstop backup' wrote."
        )
    conn = sqlite3.connect(file.resolve().as_uri() + "?mode=ro", uri=True)
    try:
        verdict = [r[0] for r in conn.execute("PRAGMA integrity_check").fetchall()]
        if verdict != ["ok"]:
            raise BackupError(f"{file} is damaged ({'; '.join(verdict[:3])}); restore another backup.")
        try:
            applied = {
                r[0]
                for r in conn.execute("SELECT name FROM _sqlite_migrations WHERE migration_set = 'backstop'")
            }
            workspaces = conn.execute("SELECT count(*) FROM workspaces").fetchone()[0]
        except sqlite3.Error:
            raise BackupError(
                f"{file} is not a Backstop database (jobs-….db holds only the queue; give the backstop-….db file)."
            )
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{file} cannot be read as a database ({exc}); restore another backup.")
    finally:
        conn.close()
    unknown = applied - {m.name for m in migrations._migrations}
    if unknown:
        raise BackupError(
            f"{file} comes from a newer Backstop (it has {sorted(unknown)[0]}); upgrade Backstop before restoring it."
        )
    return workspaces


def _secret_warning(settings: Settings, db_path: Path) -> str | None:
    """Why the restored secrets can't be read with the key this data folder will use, if so."""
    from backstop.lib.crypto import SecretBox

    key = settings.secret_key
    if not key and settings.secret_key_path.exists():
        key = settings.secret_key_path.read_text().strip()
    conn = sqlite3.connect(db_path)
    try:
        row = conn.execute("SELECT embed_secret_enc FROM workspaces ORDER BY id LIMIT 1").fetchone()
    finally:
        conn.close()
    if row is None:
        return None
    how = (
        "Start Backstop with the BACKSTOP_SECRET_KEY or the secret_key file of the instance the "
        "backup came from (restore --secret-key-file copies the file), or Stripe keys, webhook "
        "secrets and embed secrets must be entered again."
    )
    if not key:
        return f"This data folder has no secret key yet. {how}"
    try:
        SecretBox(key).decrypt(row[0])
    except ValueError:
        return f"The secret key this data folder uses does not open the backup's secrets. {how}"
    return None


def restore_database(
    settings: Settings, file: Path, *, force: bool = False, secret_key_file: Path | None = None
) -> Restored:
    """Make ``file`` (a ``backstop backup`` copy of backstop.db) the data folder's database.

    A data folder that already holds anything but a secret_key file is left alone unless
    ``force``. The queue (jobs.db) is not restored: it is disposable, and the restored work rows
    are picked up again by the sweeper when Backstop starts.
    """
    from backstop.db import migrate

    workspaces = _check_backup(file)
    data_dir = settings.data_dir
    if data_dir.is_dir() and serving.is_served(data_dir):
        raise BackupError(
            f"A Backstop is running on {data_dir}; stop it first, then restore (nothing was changed)."
        )
    if file.resolve().parent == data_dir.resolve() and file.name in ("backstop.db", "jobs.db"):
        raise BackupError("That file is the data folder's own database; give a backup file.")
    present = sorted(p.name for p in data_dir.iterdir()) if data_dir.is_dir() else []
    others = [name for name in present if name != "secret_key"]
    if others and not force:
        raise BackupError(
            f"{data_dir} is not empty (it holds {', '.join(others[:3])}); restore into an empty "
            "folder, or pass --force to replace its database (back it up first)."
        )
    key_text = None
    if secret_key_file is not None:
        try:
            key_text = secret_key_file.read_text().strip()
        except OSError as exc:
            raise BackupError(f"Cannot read the secret key file {secret_key_file} ({exc.strerror}).")
        if not key_text:
            raise BackupError(f"{secret_key_file} is empty; it should hold the secret key.")
        current = settings.secret_key_path
        if current.exists() and current.read_text().strip() != key_text and not force:
            raise BackupError(f"{current} holds another key; pass --force to replace it.")
    try:
        private_dir(data_dir)
    except OSError as exc:
        raise BackupError(f"Cannot create {data_dir} ({exc.strerror}); pick a folder you can write to.")
    staging = data_dir / "backstop.db.restoring"
    staging.unlink(missing_ok=True)
    src = sqlite3.connect(file.resolve().as_uri() + "?mode=ro", uri=True)
    dst = sqlite3.connect(private_file(staging))
    try:
        src.backup(dst)
    except sqlite3.Error as exc:
        dst.close()
        staging.unlink(missing_ok=True)
        raise BackupError(f"Copying {file.name} failed ({exc}); nothing was replaced.")
    finally:
        dst.close()
        src.close()
    # The old database's journal and queue belong to the old data: they go with it.
    for base in (settings.db_path, settings.jobs_db_path):
        for suffix in ("", *SQLITE_SIDECARS):
            if suffix or base == settings.jobs_db_path:
                Path(f"{base}{suffix}").unlink(missing_ok=True)
    os.replace(staging, settings.db_path)
    private_file(settings.db_path)
    if key_text is not None:
        settings.secret_key_path.unlink(missing_ok=True)
        fd = os.open(settings.secret_key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(key_text + "\n")
    migrate(settings.db_path)
    return Restored(settings.db_path, workspaces, _secret_warning(settings, settings.db_path))
