"""docs/privacy.md lists every outbound connection: code that can open one is named there."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "privacy.md").read_text()

# Libraries that open connections to other machines.
NETWORK_LIBRARIES = (
    "httpx",
    "requests",
    "urllib3",
    "aiohttp",
    "boto3",
    "botocore",
    "smtplib",
    "stripe",
    "dns",
    "http.client",
    "urllib.request",
    "socket",
    "ftplib",
    "websockets",
)


def network_imports(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        found += [n for n in names if any(n == lib or n.startswith(lib + ".") for lib in NETWORK_LIBRARIES)]
    return found


def named(path: Path) -> bool:
    rel = path.relative_to(ROOT)
    candidates = [str(rel), *(str(parent) for parent in rel.parents if str(parent) != ".")]
    return any(f"`{c}`" in DOC for c in candidates)


SOURCES = sorted(p for folder in ("backstop", "jobs") for p in (ROOT / folder).rglob("*.py"))
CONNECTING = [p for p in SOURCES if network_imports(p.read_text())]


def test_it_finds_the_code_that_connects():
    rels = {str(p.relative_to(ROOT)) for p in CONNECTING}
    assert {"backstop/connectors/ses/smtp.py", "backstop/connectors/http/__init__.py"} <= rels


@pytest.mark.parametrize("path", CONNECTING, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_module_that_can_connect_is_named_in_the_privacy_page(path: Path):
    assert named(path), (
        f"{path.relative_to(ROOT)} imports {network_imports(path.read_text())}: say in docs/privacy.md where it connects"
    )


def test_every_connector_is_named():
    for package in (ROOT / "backstop" / "connectors").iterdir():
        if package.is_dir() and (package / "__init__.py").exists():
            assert named(package / "__init__.py") or all(
                named(p) for p in package.glob("*.py") if network_imports(p.read_text())
            ), package.name


def test_it_would_catch_a_new_connection():
    assert network_imports("import httpx\n") == ["httpx"]
    assert network_imports("from dns import resolver\n") == ["dns"]
    assert network_imports("import urllib.request\n") == ["urllib.request"]
    assert network_imports("from urllib.parse import urlsplit\n") == []
    assert not named(ROOT / "backstop" / "recovery" / "links.py")
    assert named(ROOT / "backstop" / "connectors" / "stripe" / "__init__.py")


def test_it_names_the_sub_processors_and_the_browser_side():
    for words in (
        "Stripe",
        "Amazon SES",
        "SMTP",
        "js.stripe.com",
        "Caddy",
        "no telemetry",
        "Settings → Data",
    ):
        assert words in " ".join(DOC.split()), words
