"""The signers in docs/route-cancellations.md, run as written in each language: Backstop accepts
the tokens they make."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from backstop.embed import tokens
from backstop.stripe_sync import connection
from backstop.workspaces.workspaces import embed_secret
from tests.cancel_flows.stories import subscriber

DOC = Path(__file__).resolve().parents[2] / "docs" / "route-cancellations.md"

# Each language: its fence, the interpreter, and the line that prints a token for the customer.
LANGUAGES = {
    "python": (
        [sys.executable, "-"],
        'print(cancel_token(os.environ["CUSTOMER"], os.environ["SUBSCRIPTION"]))',
    ),
    "javascript": (
        ["node", "-"],
        "console.log(cancelToken(process.env.CUSTOMER, process.env.SUBSCRIPTION));",
    ),
    "ruby": (["ruby", "-"], 'puts cancel_token(ENV.fetch("CUSTOMER"), ENV.fetch("SUBSCRIPTION"))'),
    "php": (["php"], 'echo cancel_token(getenv("CUSTOMER"), getenv("SUBSCRIPTION")), "\\n";'),
}


def sample(language: str) -> str:
    blocks = re.findall(rf"```{language}\n(.*?)```", DOC.read_text(), flags=re.S)
    assert len(blocks) == 1, f"docs/route-cancellations.md should have one {language} signer"
    return blocks[0]


def test_every_code_sample_in_the_page_is_one_we_run():
    fences = set(re.findall(r"^```(\w+)$", DOC.read_text(), flags=re.M))
    assert fences <= {*LANGUAGES, "console"}, fences - {*LANGUAGES, "console"}


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_documented_signer_makes_a_token_backstop_accepts(language, db, box, acme, fake_stripe, tmp_path):
    command, call = LANGUAGES[language]
    if shutil.which(command[0]) is None and command[0] != sys.executable:
        pytest.fail(f"{command[0]} is not installed; scripts/bootstrap --dev installs it.")
    connection.save_key_connection(
        db, box, acme.id, fake_stripe.add_key(), False, webhook_secret=None, polling=True
    )
    sam = subscriber(db, acme.id, fake_stripe)
    source = sample(language)
    program = f"{source}\n{call}\n"
    env = {
        **os.environ,
        "CANCEL_FLOW_SECRET": embed_secret(db, box, acme.id),
        "CUSTOMER": sam.customer["id"],
        "SUBSCRIPTION": sam.subscription["id"],
    }
    if language == "php":
        script = tmp_path / "signer.php"
        script.write_text(program)
        command = [*command, str(script)]
    done = subprocess.run(
        command, input=program, capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip()
    result = tokens.check(db, box, token)
    assert result.valid, (result.reason, result.message)
    assert (result.customer_id, result.subscription_id) == (sam.customer["id"], sam.subscription["id"])
    assert 0 < result.claims["exp"] - result.claims["iat"] <= tokens.MAX_LIFETIME
    second = subprocess.run(
        command, input=program, capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert tokens.check(db, box, second.stdout.strip()).claims["jti"] != result.claims["jti"]
