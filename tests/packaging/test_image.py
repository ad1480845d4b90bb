"""The container image: lint the Dockerfile, build it, run it, restart it, stop it.

Built with buildah and run with podman (no Docker engine here; packaging/README.md explains the
local base image and the host-built wheels). The flags are the ones that work on this machine.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import free_port
from tests.packaging.conftest import ROOT, need, wait_healthy

pytestmark = pytest.mark.slow

TAG = "localhost/backstop:test"
STORAGE = ["--storage-driver", "overlay"]
RUNTIME = ["--cgroup-manager", "cgroupfs", "--runtime", "runc"]
RUN_FLAGS = ["--network", "host", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]


def podman(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [need("podman"), *STORAGE, *RUNTIME, *args],
        capture_output=True,
        text=True,
        check=check,
        timeout=timeout,
    )


def test_the_dockerfile_passes_hadolint_at_warning_level():
    result = subprocess.run(
        [need("hadolint"), "--failure-threshold", "warning", "Dockerfile"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def image() -> str:
    for tool in ("buildah", "podman", "debootstrap", "runc"):
        need(tool)
    build = subprocess.run(
        [sys.executable, str(ROOT / "packaging" / "build_image.py"), "--tag", TAG],
        capture_output=True,
        text=True,
        check=False,
        timeout=1200,
    )
    assert build.returncode == 0, build.stderr[-6000:]
    return TAG


@pytest.fixture
def container(image: str) -> Iterator[tuple[str, int]]:
    name = f"backstop-test-{uuid.uuid4().hex[:8]}"
    port = free_port()
    podman(
        "run",
        "--detach",
        "--name",
        name,
        *RUN_FLAGS,
        "--volume",
        f"{name}-data:/data",
        # Host networking shares the host's ports: move off 8750 in case something else has it.
        "--env",
        f"BACKSTOP_PORT={port}",
        image,
    )
    try:
        yield name, port
    finally:
        podman("rm", "--force", "--time", "5", name, check=False)
        podman("volume", "rm", "--force", f"{name}-data", check=False)


def _wait(name: str, port: int) -> None:
    def running() -> bool:
        state = podman("inspect", "--format", "{{.State.Running}}", name, check=False).stdout.strip()
        return state == "true"

    wait_healthy(
        f"http://127.0.0.1:{port}",
        timeout=60,
        alive=running,
        describe=lambda: podman("logs", name, check=False).stderr[-4000:],
    )


def test_the_image_is_configured_for_a_safe_unattended_run(image):
    inspected = json.loads(podman("image", "inspect", image).stdout)[0]
    config = inspected["Config"]
    assert config["User"] == "10001:10001"
    assert "8750/tcp" in config["ExposedPorts"]
    assert "/data" in config["Volumes"]
    assert config["StopSignal"] in ("SIGINT", "2")
    assert "BACKSTOP_DATA_DIR=/data" in config["Env"]
    assert config["Cmd"] == ["backstop", "serve"]
    assert inspected["Healthcheck"]["Test"] == ["CMD", "python3", "/opt/backstop/healthcheck.py"]


def test_the_image_stays_under_200_mb_and_carries_no_build_or_desktop_tools(image):
    size = int(podman("image", "inspect", "--format", "{{.Size}}", image).stdout.strip())
    assert size < 200_000_000, f"the image is {size / 1e6:.0f} MB"
    listing = podman(
        "run",
        "--rm",
        *RUN_FLAGS,
        "--entrypoint",
        "python3",
        image,
        "-c",
        "import importlib.util as u; print([m for m in ('pip', 'setuptools', 'faker', 'webview', "
        "'gi', 'PySide6', 'pytest') if u.find_spec(m)])",
    ).stdout
    assert listing.strip() == "[]"


def test_the_container_serves_keeps_its_data_across_a_restart_and_stops_gracefully(container):
    name, port = container
    _wait(name, port)
    health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
    assert health.status_code == 200
    assert health.json() == {"status": "ok"}
    # The image leaves Faker out; the OpenAPI document must not need it.
    assert httpx.get(f"http://127.0.0.1:{port}/api/v1/openapi.json", timeout=10).status_code == 200
    # Only SES's (and the credential services') API models are left of botocore's: sending works.
    ses = podman(
        "exec",
        name,
        "python3",
        "-c",
        "import boto3; c = boto3.client('sesv2', region_name='eu-west-1'); "
        "print(c.meta.service_model.operation_model('SendEmail').name)",
    ).stdout
    assert ses.strip() == "SendEmail"
    # The image's own HEALTHCHECK command, run the way the engine runs it.
    assert podman("healthcheck", "run", name, check=False).returncode == 0

    created = podman(
        "exec",
        name,
        "backstop",
        "workspace",
        "create",
        "--name",
        "Acme Analytics",
        "--slug",
        "acme",
        "--json",
    )
    assert json.loads(created.stdout)["slug"] == "acme"

    podman("stop", "--time", "30", name)
    state = json.loads(podman("inspect", name).stdout)[0]["State"]
    logs = podman("logs", name).stderr
    # SIGINT, then uvicorn finishes requests and the shutdown hook stops the jobs consumer.
    assert "Application shutdown complete" in logs
    assert "jobs consumer stopped" in logs
    assert state["ExitCode"] == 0, logs[-3000:]

    podman("start", name)
    _wait(name, port)
    slugs = podman(
        "exec",
        name,
        "python3",
        "-c",
        "import sqlite3; print([r[0] for r in sqlite3.connect('/data/backstop.db').execute("
        "'SELECT slug FROM workspaces')])",
    ).stdout
    assert slugs.strip() == "['acme']"
    owner = podman("exec", name, "stat", "-c", "%u", "/data/backstop.db").stdout.strip()
    assert owner == "10001"
