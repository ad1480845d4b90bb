"""The VPS example: docker-compose.yml wires Backstop behind Caddy, and Caddy accepts the
Caddyfile as shipped and with on-demand TLS for portal domains switched on."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.packaging.conftest import ROOT, need

pytestmark = pytest.mark.slow

PACKAGING = ROOT / "packaging"
CADDY_ENV = {"DOMAIN": "backstop.example.com", "ACME_EMAIL": "olivia@acme.test"}


def caddy_adapt(caddyfile: Path) -> str:
    done = subprocess.run(
        [need("caddy"), "adapt", "--config", str(caddyfile), "--adapter", "caddyfile"],
        env={**os.environ, **CADDY_ENV},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def switch_on_portal_domains(text: str) -> str:
    """Delete the "#" before the disabled lines between the markers, as the comment says to."""
    out, inside = [], False
    for line in text.splitlines():
        if re.search(r"---- (On-demand TLS|Portal domains)", line):
            inside = True
        elif "---- end of" in line:
            inside = False
        elif inside and re.match(r"\s*#(\t|\S)", line):
            line = line.replace("#", "", 1)
        out.append(line)
    return "\n".join(out) + "\n"


def test_the_caddyfile_proxies_the_admin_domain_to_backstop():
    adapted = caddy_adapt(PACKAGING / "Caddyfile")
    assert "backstop.example.com" in adapted
    assert "backstop:8750" in adapted
    assert "on_demand" not in adapted


def test_switching_on_portal_domains_asks_backstop_before_each_certificate(tmp_path):
    enabled = tmp_path / "Caddyfile"
    enabled.write_text(switch_on_portal_domains((PACKAGING / "Caddyfile").read_text()))
    adapted = caddy_adapt(enabled)
    assert "http://backstop:8750/internal/tls-allowed" in adapted
    assert '"on_demand":true' in adapted


def test_the_compose_file_runs_the_image_behind_caddy_with_a_data_volume():
    compose = yaml.safe_load((PACKAGING / "docker-compose.yml").read_text())
    backstop, caddy = compose["services"]["backstop"], compose["services"]["caddy"]
    assert backstop["build"] == {"context": "..", "dockerfile": "Dockerfile"}
    assert (PACKAGING / backstop["build"]["context"] / "Dockerfile").exists()
    assert "backstop-data:/data" in backstop["volumes"]
    assert "ports" not in backstop, "only Caddy should be reachable from outside"
    assert backstop["environment"]["BACKSTOP_BASE_URL"].startswith("https://${DOMAIN")
    assert caddy["depends_on"]["backstop"]["condition"] == "service_healthy"
    assert "./Caddyfile:/etc/caddy/Caddyfile:ro" in caddy["volumes"]
    assert {"80:80", "443:443"} <= set(caddy["ports"])
    assert set(compose["volumes"]) == {"backstop-data", "caddy-data", "caddy-config"}


def test_the_compose_file_trusts_forwarded_headers_from_caddy_alone():
    compose = yaml.safe_load((PACKAGING / "docker-compose.yml").read_text())
    backstop, caddy = compose["services"]["backstop"], compose["services"]["caddy"]
    caddy_address = caddy["networks"]["backstop"]["ipv4_address"]
    assert backstop["environment"]["BACKSTOP_TRUSTED_PROXIES"] == caddy_address
    assert "FORWARDED_ALLOW_IPS" not in backstop["environment"]
    assert "backstop" in backstop["networks"]
    subnet = compose["networks"]["backstop"]["ipam"]["config"][0]["subnet"]
    import ipaddress

    assert ipaddress.ip_address(caddy_address) in ipaddress.ip_network(subnet)
