"""Build the one-folder desktop app with PyInstaller from a clean virtualenv.

    python packaging/build_app.py [--dist DIR] [--work DIR]

The virtualenv holds only Backstop's runtime dependencies, the desktop extra (pywebview with Qt)
and PyInstaller, all read from pyproject.toml, so test tools never end up in the bundle. It is
kept in ~/.cache/backstop-build (or $XDG_CACHE_HOME) under a name derived from those pins and
this Python, and made again only when they change. The app lands in DIST/Backstop.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import platform
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: builds there are one at a time anyway
    fcntl = None

ROOT = Path(__file__).resolve().parent.parent
# A build environment unused this long is removed when another is created.
STALE_DAYS = 7


def log(message: str) -> None:
    print(f"[build_app] {message}", file=sys.stderr, flush=True)


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    path = Path(base) / "backstop-build"
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def cache_lock(name: str):
    """One build at a time per cache entry, also across checkouts sharing the machine."""
    if fcntl is None:
        yield
        return
    with (cache_dir() / f"{name}.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def build_requirements() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    pyinstaller = [r for r in extras["dev"] if r.lower().startswith("pyinstaller")]
    if not pyinstaller:
        raise SystemExit("pyproject.toml's dev extra has no pyinstaller pin")
    return [*project["dependencies"], *extras["desktop"], *pyinstaller]


def clean_venv() -> Path:
    """A virtualenv with exactly the build requirements, reused while they stay the same."""
    requirements = build_requirements()
    key = hashlib.sha256("\n".join([platform.python_version(), *requirements]).encode()).hexdigest()[:12]
    venv = cache_dir() / f"app-venv-{key}"
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    ready = venv / ".complete"
    if ready.exists():
        ready.touch()  # in use: a checkout with other requirements leaves it alone
        return python
    shutil.rmtree(venv, ignore_errors=True)
    # Other checkouts on this machine may be building with theirs right now: only environments
    # nobody has used for STALE_DAYS are removed.
    for stale in cache_dir().glob("app-venv-*"):
        marker = stale / ".complete"
        if stale != venv and (
            not marker.exists() or time.time() - marker.stat().st_mtime > STALE_DAYS * 86400
        ):
            shutil.rmtree(stale, ignore_errors=True)
    log(f"creating {venv}")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *requirements],
        check=True,
    )
    ready.write_text("\n".join(requirements) + "\n")
    return python


def build_app(dist: Path, work: Path) -> Path:
    with cache_lock("app-venv"):
        python = clean_venv()
    log("running PyInstaller")
    # Two builds sharing a work folder would trample each other's files.
    with cache_lock("pyinstaller-" + hashlib.sha256(str(work).encode()).hexdigest()[:12]):
        subprocess.run(
            [
                str(python),
                "-m",
                "PyInstaller",
                "--noconfirm",
                "--log-level",
                "WARN",
                "--distpath",
                str(dist),
                "--workpath",
                str(work),
                str(ROOT / "backstop.spec"),
            ],
            check=True,
            cwd=ROOT,
        )
    app = dist / "Backstop"
    if not (app / ("Backstop.exe" if os.name == "nt" else "Backstop")).exists():
        raise SystemExit(f"PyInstaller finished but {app} has no Backstop executable")
    return app


def folder_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dist", type=Path, default=ROOT / "dist", help="where the app goes (default dist/)")
    parser.add_argument("--work", type=Path, default=ROOT / "build", help="PyInstaller's scratch folder")
    args = parser.parse_args()
    started = time.monotonic()
    app = build_app(args.dist.resolve(), args.work.resolve())
    log(f"built {app} ({folder_size(app) / 1e6:.0f} MB) in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
