"""Files at rest readable by Backstop's own user only: the data folder 0700, the databases (with
their -wal and -shm files), the secret key and backups 0600, whatever the umask.

SQLite creates a database's -wal and -shm files with the database file's own permissions, so a
database created here as 0600 keeps its journal private too.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
SQLITE_SIDECARS = ("-wal", "-shm", "-journal")


def private_dir(path: Path) -> Path:
    """Create the folder (and its parents) if missing, and make it 0700."""
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    _tighten(path, PRIVATE_DIR)
    return path


def private_file(path: Path) -> Path:
    """Create an empty file as 0600 if missing (an empty file is an empty SQLite database), and
    make an existing one and its SQLite sidecars 0600."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))
    for candidate in (path, *(Path(f"{path}{suffix}") for suffix in SQLITE_SIDECARS)):
        if candidate.exists():
            _tighten(candidate, PRIVATE_FILE)
    return path


def _tighten(path: Path, mode: int) -> None:
    # Only ever removes permissions; a file owned by someone else (a root-made volume) is left
    # alone here and reported by ``too_open`` instead.
    with contextlib.suppress(PermissionError):
        if stat.S_IMODE(path.stat().st_mode) & ~mode:
            os.chmod(path, stat.S_IMODE(path.stat().st_mode) & mode)


def too_open(data_dir: Path) -> list[tuple[Path, int, int]]:
    """(path, its mode, the mode it should have) for each of Backstop's files at rest that other
    users could read or write."""
    found: list[tuple[Path, int, int]] = []
    if data_dir.is_dir():
        found += _check(data_dir, PRIVATE_DIR)
        for name in ("backstop.db", "jobs.db", "secret_key"):
            base = data_dir / name
            for candidate in (base, *(Path(f"{base}{suffix}") for suffix in SQLITE_SIDECARS)):
                found += _check(candidate, PRIVATE_FILE)
        backups = data_dir / "backups"
        if backups.is_dir():
            found += _check(backups, PRIVATE_DIR)
            for file in sorted(backups.glob("*.db")):
                found += _check(file, PRIVATE_FILE)
    return found


def _check(path: Path, wanted: int) -> list[tuple[Path, int, int]]:
    if not path.exists():
        return []
    mode = stat.S_IMODE(path.stat().st_mode)
    return [(path, mode, wanted)] if mode & ~wanted & 0o077 else []
