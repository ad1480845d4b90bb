"""The verification snippets in docs/webhooks.md, run as written against real deliveries: the
Python one with the stripe SDK, the Node one with Stripe's Node library from npm (installed from
the lockfile in tests/webhooks_out/node; no registry, no test)."""

from __future__ import annotations

import base64
import json
import re
import subprocess
from pathlib import Path

import pytest

from backstop.db import write_transaction
from backstop.webhooks_out import endpoints, events
from tests.conftest import ROOT

DOC = ROOT / "docs" / "webhooks.md"
NODE_DIR = Path(__file__).parent / "node"


def snippet(language: str, fence: str) -> str:
    text = DOC.read_text()
    section = text.split(f"### {language}\n", 1)[1]
    match = re.search(rf"```{fence}\n(.*?)```", section, re.S)
    assert match, f"docs/webhooks.md has no {language} snippet"
    return match.group(1)


@pytest.fixture
def deliveries(db, box, acme, outbound, receiver):
    """Three real deliveries and the endpoint's secret: recovered, a retry of it, and a ping."""
    with write_transaction(db):
        endpoint, secret = endpoints.create_endpoint(
            db, box, acme.id, url=receiver.url, events=["recovery.recovered"], allow_private=True
        )
    with write_transaction(db):
        events.record_event(
            db,
            acme.id,
            "recovery.recovered",
            {"customer_id": "cus_ada", "amount_due": {"amount": 4900, "currency": "usd"}},
        )
    receiver.wait_for(1)
    from backstop.webhooks_out import delivery

    (row,) = delivery.deliveries_for(db, endpoint.id)
    delivery.redeliver(db, acme.id, endpoint.public_id, row["id"])
    receiver.wait_for(2)
    return receiver.requests, secret


def cases(received) -> list[tuple[bytes, str]]:
    first = received[0]
    tampered = first.body.replace(b"4900", b"9900")
    reserialized = json.dumps(json.loads(first.body), indent=2).encode()
    header = first.headers["x-backstop-signature"]
    return [
        (first.body, header),
        (received[1].body, received[1].headers["x-backstop-signature"]),  # the redelivery
        (tampered, header),
        (reserialized, header),
    ]


def test_the_python_snippet_verifies_deliveries_and_dedupes(deliveries, monkeypatch, capsys):
    received, secret = deliveries
    monkeypatch.setenv("WEBHOOK_SIGNING_SECRET", secret)
    namespace: dict = {}
    exec(compile(snippet("Python", "python"), "docs/webhooks.md", "exec"), namespace)  # noqa: S102
    handle = namespace["handle_backstop_webhook"]
    assert [handle(body, header) for body, header in cases(received)] == [200, 200, 400, 400]
    assert capsys.readouterr().out.splitlines() == ["Recovered 4900 usd from cus_ada"]  # once


def ensure_node_modules() -> None:
    if not (NODE_DIR / "node_modules" / "stripe" / "package.json").exists():
        # scripts/bootstrap --dev installs it; a fresh checkout gets it here, from the lockfile.
        result = subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund"],
            cwd=NODE_DIR,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, f"npm ci failed:\n{result.stdout}\n{result.stderr}"


def test_the_node_snippet_verifies_deliveries_with_stripes_node_library(deliveries, tmp_path):
    received, secret = deliveries
    ensure_node_modules()
    script = NODE_DIR / f"snippet_{tmp_path.name}.js"  # beside node_modules, so require("stripe") resolves
    script.write_text(snippet("Node", "js"))
    case_file = tmp_path / "cases.json"
    case_file.write_text(
        json.dumps([{"body": base64.b64encode(b).decode(), "header": h} for b, h in cases(received)])
    )
    try:
        result = subprocess.run(
            ["node", "run_snippet.js", script.name, str(case_file)],
            cwd=NODE_DIR,
            capture_output=True,
            text=True,
            timeout=60,
            env={"PATH": "/usr/bin:/bin", "WEBHOOK_SIGNING_SECRET": secret},
        )
    finally:
        script.unlink()
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert json.loads(lines[-1]) == [200, 200, 400, 400]
    assert lines[:-1] == ["Recovered 4900 usd from cus_ada"]


def test_node_receives_both_signatures_during_a_rotation(db, box, acme, outbound, receiver, tmp_path):
    ensure_node_modules()
    with write_transaction(db):
        endpoint, old = endpoints.create_endpoint(
            db, box, acme.id, url=receiver.url, events=["recovery.opened"], allow_private=True
        )
    _, new = endpoints.rotate_secret(db, box, acme.id, endpoint.public_id)
    with write_transaction(db):
        events.record_event(db, acme.id, "recovery.opened", {"campaign_id": 1})
    receiver.wait_for(1)
    got = receiver.requests[0]
    check = (
        "const Stripe = require('stripe');"
        "const [body, header, ...secrets] = process.argv.slice(1);"
        "for (const s of secrets) Stripe.webhooks.constructEvent(Buffer.from(body, 'base64'), header, s);"
        "process.stdout.write('verified');"
    )
    result = subprocess.run(
        [
            "node",
            "-e",
            check,
            base64.b64encode(got.body).decode(),
            got.headers["x-backstop-signature"],
            old,
            new,
        ],
        cwd=NODE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout == "verified", result.stderr
