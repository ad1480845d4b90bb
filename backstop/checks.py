"""Startup checks: each failure is one sentence that says what is wrong and how to fix it."""

from __future__ import annotations

import errno
import os
import socket
import sqlite3
import tempfile
from pathlib import Path

from backstop.lib.filemodes import private_dir
from backstop.settings import ConfigError, Settings, ensure_secret_key


def check_data_dir(data_dir: Path) -> None:
    if data_dir.exists() and not data_dir.is_dir():
        raise ConfigError(
            f"The data directory {data_dir} is a file, not a folder; set BACKSTOP_DATA_DIR to a "
            "folder (it is created if missing)."
        )
    try:
        private_dir(data_dir)
    except OSError as exc:
        raise ConfigError(
            f"The data directory {data_dir} cannot be created ({exc.strerror}); set "
            "BACKSTOP_DATA_DIR to a folder this user can write to."
        )
    # Write a file rather than ask os.access: root passes access checks on read-only mounts, and
    # the first real write (the secret key, the database) would then fail with a traceback.
    try:
        fd, probe = tempfile.mkstemp(prefix=".write-check-", dir=data_dir)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise ConfigError(
            f"The data directory {data_dir} is not writable by this user ({exc.strerror}); fix its "
            "permissions or set BACKSTOP_DATA_DIR to another folder."
        )


def check_database(path: Path) -> None:
    if not path.exists():
        return
    try:
        conn = sqlite3.connect(path)
        try:
            conn.execute("PRAGMA schema_version").fetchone()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise ConfigError(
            f"{path} is not a readable SQLite database ({exc}); restore it from a backup "
            "made with 'backstop backup' or move it aside to start fresh."
        )


def check_port_free(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError(
                f"Port {port} on {host} is already in use; stop the other program or set "
                "BACKSTOP_PORT (or --port) to a free port."
            )
        if exc.errno == errno.EADDRNOTAVAIL or isinstance(exc, socket.gaierror):
            raise ConfigError(
                f"{host} is not an address of this machine; set BACKSTOP_HOST to 127.0.0.1, "
                "0.0.0.0 or one of this machine's addresses."
            )
        if exc.errno == errno.EACCES:
            raise ConfigError(
                f"This user may not listen on port {port}; pick a port above 1023 with "
                "BACKSTOP_PORT (or --port)."
            )
        raise ConfigError(f"Cannot listen on {host}:{port} ({exc.strerror}); pick another address.")
    finally:
        sock.close()


def run_startup_checks(settings: Settings, *, check_port: bool = True) -> Settings:
    """Check what serving needs and return the settings with the secret key resolved."""
    check_data_dir(settings.data_dir)
    settings = ensure_secret_key(settings)
    check_database(settings.db_path)
    check_database(settings.jobs_db_path)
    if check_port:
        check_port_free(settings.host, settings.port)
    return settings
