"""Build the container image from the Dockerfile without a Docker engine or a registry.

    python packaging/build_image.py [--tag backstop:dev]

Where Docker works, ``docker build -t backstop .`` is all it takes. This script is for machines
that can't pull base images or reach PyPI from inside a build (CI here): it

1. makes ``debian:bookworm-slim`` locally with debootstrap (trimmed the way Debian's own slim
   image is) and imports it under that exact name, so the unchanged Dockerfile builds against it;
2. builds the wheels on the host and serves them on loopback, so ``pip`` in the build needs no
   index (``--build-arg PIP_OPTIONS=...``);
3. runs ``buildah bud`` with the flags that work on such a machine.

The debootstrap root file system is cached in ~/.cache/backstop-build (or $XDG_CACHE_HOME), and
the imported base stays in the container storage, so only the first build pays for them.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import functools
import http.server
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASE_IMAGE = "docker.io/library/debian:bookworm-slim"
DEFAULT_TAG = "localhost/backstop:dev"
WHEELS_PORT = 38751
SUITE = "bookworm"
# Both tools must agree on the storage driver; vfs works too but is many times slower.
STORAGE = ["--storage-driver", "overlay"]
# What Debian's slim images leave out, also for packages installed later in the Dockerfile.
SLIM_DPKG_CFG = """\
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
"""
APT_NO_CACHE = """\
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
"""


class BuildError(Exception):
    pass


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    path = Path(base) / "backstop-build"
    path.mkdir(parents=True, exist_ok=True)
    return path


def log(message: str) -> None:
    print(f"[build_image] {message}", file=sys.stderr, flush=True)


def need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise BuildError(f"{tool} is not installed; scripts/bootstrap --dev installs it.")
    return path


def run(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    log("$ " + " ".join(args))
    return subprocess.run(args, check=True, **kwargs)


def image_exists(name: str) -> bool:
    return (
        subprocess.run(
            [need("podman"), *STORAGE, "image", "exists", name], capture_output=True, check=False
        ).returncode
        == 0
    )


def debian_mirror() -> str:
    """The Debian mirror apt already uses on this machine (DEBIAN_MIRROR overrides)."""
    if os.environ.get("DEBIAN_MIRROR"):
        return os.environ["DEBIAN_MIRROR"]
    sources = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]
    for source in sources:
        with contextlib.suppress(OSError):
            for line in source.read_text().splitlines():
                words = line.replace("URIs:", " ").split()
                for word in words:
                    if word.startswith(("http://", "https://")) and word.rstrip("/").endswith("/debian"):
                        return word.rstrip("/")
    return "http://deb.debian.org/debian"


def base_rootfs_tarball() -> Path:
    """A minimal Debian root file system as a tar file, made once with debootstrap."""
    tarball = cache_dir() / f"debian-{SUITE}-slim-rootfs.tar"
    if tarball.exists():
        return tarball
    need("debootstrap")
    with tempfile.TemporaryDirectory(dir=cache_dir()) as tmp:
        rootfs = Path(tmp) / "rootfs"
        run(["debootstrap", "--variant=minbase", SUITE, str(rootfs), debian_mirror()])
        (rootfs / "etc/dpkg/dpkg.cfg.d/docker").write_text(SLIM_DPKG_CFG)
        (rootfs / "etc/apt/apt.conf.d/docker-clean").write_text(APT_NO_CACHE)
        for pattern in ("usr/share/doc/*/*", "usr/share/man/*", "usr/share/info/*", "usr/share/locale/*"):
            for path in rootfs.glob(pattern):
                if path.name == "copyright":
                    continue
                shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
        leftovers = (
            "var/lib/apt/lists/*",
            "var/cache/apt/*.bin",
            "var/cache/apt/archives/*.deb",
            "var/log/*.log",
        )
        for path in [p for pattern in leftovers for p in rootfs.glob(pattern)]:
            if path.is_file():
                path.unlink()
        partial = tarball.with_suffix(".part")
        run(["tar", "--numeric-owner", "-C", str(rootfs), "-cf", str(partial), "."])
        partial.rename(tarball)
    return tarball


def ensure_base_image() -> None:
    """Make the Dockerfile's FROM image exist locally, under its real name."""
    if image_exists(BASE_IMAGE):
        return
    tarball = base_rootfs_tarball()
    run(
        [
            need("podman"),
            *STORAGE,
            "import",
            "--change",
            "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "--change",
            'CMD ["bash"]',
            str(tarball),
            BASE_IMAGE,
        ],
        stdout=subprocess.DEVNULL,
    )


def build_wheels(dest: Path) -> None:
    """Wheels for Backstop and everything it needs, plus the build backend for ``pip install .``."""
    run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--wheel-dir",
            str(dest),
            str(ROOT),
            "setuptools>=75",
        ],
        stdout=subprocess.DEVNULL,
    )


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args) -> None:
        pass


@contextlib.contextmanager
def serve_directory(directory: Path) -> Iterator[str]:
    handler = functools.partial(_QuietHandler, directory=str(directory))
    try:
        # A steady address keeps the build's cache key steady, so unchanged layers are reused.
        server = http.server.ThreadingHTTPServer(("127.0.0.1", WHEELS_PORT), handler)
    except OSError:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def cache_lock(name: str) -> Iterator[None]:
    """One build at a time on this machine: they share the base, the cache and the storage."""
    with (cache_dir() / f"{name}.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def build_image(tag: str = DEFAULT_TAG) -> float:
    """Build the image and return the seconds it took."""
    need("buildah")
    started = time.monotonic()
    with cache_lock("image"):
        _build(tag)
        # Each build with changed sources leaves the previous one's layers behind untagged; drop
        # those from earlier days so repeated builds don't fill the disk (today's stay as cache).
        subprocess.run(
            [need("podman"), *STORAGE, "image", "prune", "--force", "--filter", "until=24h"],
            capture_output=True,
            check=False,
        )
    return time.monotonic() - started


def _build(tag: str) -> None:
    ensure_base_image()
    with tempfile.TemporaryDirectory() as tmp:
        wheels = Path(tmp)
        build_wheels(wheels)
        with serve_directory(wheels) as url:
            run(
                [
                    need("buildah"),
                    *STORAGE,
                    "bud",
                    "--isolation",
                    "chroot",
                    "--network",
                    "host",
                    "--format",  # Docker's format: OCI images have no HEALTHCHECK
                    "docker",
                    "--layers",
                    "--build-arg",
                    f"PIP_OPTIONS=--no-index --find-links {url}",
                    "--tag",
                    tag,
                    "--file",
                    str(ROOT / "Dockerfile"),
                    str(ROOT),
                ],
                stdout=sys.stderr,
            )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tag", default=DEFAULT_TAG, help=f"image name (default {DEFAULT_TAG})")
    args = parser.parse_args()
    try:
        seconds = build_image(args.tag)
    except (BuildError, subprocess.CalledProcessError) as exc:
        print(f"build failed: {exc}", file=sys.stderr)
        return 1
    log(f"built {args.tag} in {seconds:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
