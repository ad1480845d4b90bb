"""The docs keep up with the code: every setting and every command is documented, and the docs
name nothing the code doesn't have."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from backstop.cli import main
from backstop.settings import KNOWN_NAMES, VARIABLES, Settings

DOCS = Path(__file__).resolve().parent.parent / "docs"


def sections(path: Path, heading: str) -> dict[str, str]:
    """Level-3 sections keyed by the code span in their heading: ### `NAME` …"""
    text = path.read_text()
    found = {}
    parts = re.split(r"^### ", text, flags=re.M)[1:]
    for part in parts:
        title, _, body = part.partition("\n")
        match = re.match(heading, title)
        if match:
            found[match.group(1)] = body.split("\n## ", 1)[0]
    return found


# Configuration


CONFIG = sections(DOCS / "configuration.md", r"`(BACKSTOP_[A-Z0-9_]+)`")


def line_starting(section: str, label: str) -> str:
    lines = [line for line in section.splitlines() if line.strip().startswith(f"- {label}:")]
    assert lines, f"no '- {label}:' line"
    return lines[0]


@pytest.mark.parametrize("var", VARIABLES, ids=lambda v: v.name)
def test_it_documents_every_setting_with_its_default_and_an_example(var):
    assert var.name in CONFIG, f"docs/configuration.md has no '### `{var.name}`' section"
    section = CONFIG[var.name]
    assert len(section.split()) >= 15, f"{var.name}: say what it does"
    assert f"{var.name}=" in line_starting(section, "Example")
    default_line = line_starting(section, "Default")
    default = getattr(Settings(), var.attr)
    if isinstance(default, Path):
        assert f"`./{default}`" in default_line, f"{var.name}: the default is ./{default}"
    elif default in (None, ()):
        assert "not set" in default_line or "generated" in default_line, var.name
    elif not isinstance(default, bool):
        assert f"`{default}`" in default_line, f"{var.name}: the default is {default}"


@pytest.mark.parametrize("var", [v for v in VARIABLES if v.secret], ids=lambda v: v.name)
def test_it_documents_the_file_form_of_every_secret(var):
    section = CONFIG[var.name]
    assert f"{var.name}_FILE=" in line_starting(section, "From a file")
    assert (
        "(secret)" in (DOCS / "configuration.md").read_text().split(f"### `{var.name}`", 1)[1].split("\n")[0]
    )


def test_it_documents_no_setting_the_code_does_not_have():
    documented = set(CONFIG)
    known = {v.name for v in VARIABLES}
    assert documented <= known, f"documented but unknown: {sorted(documented - known)}"


@pytest.mark.parametrize("doc", [*sorted(p.name for p in DOCS.glob("*.md")), "../README.md"])
def test_it_mentions_only_settings_the_code_knows(doc):
    text = (DOCS / doc).read_text()
    mentioned = set(re.findall(r"\bBACKSTOP_[A-Z0-9_]*[A-Z0-9]\b", text))
    unknown = mentioned - KNOWN_NAMES
    assert not unknown, f"{doc} mentions {sorted(unknown)}, which Backstop does not read"


# Command line


def leaf_commands(group: click.Group, prefix: tuple[str, ...] = ()):
    for name, command in sorted(group.commands.items()):
        if command.hidden:
            continue
        if isinstance(command, click.Group):
            yield from leaf_commands(command, (*prefix, name))
        else:
            yield (*prefix, name), command


COMMANDS = dict(leaf_commands(main))
CLI_DOC = sections(DOCS / "cli.md", r"`backstop ([a-z -]+?)(?: [A-Z]+)?`")


@pytest.mark.parametrize("path", sorted(COMMANDS), ids=" ".join)
def test_it_documents_every_command_and_its_options(path):
    name = " ".join(path)
    assert name in CLI_DOC, f"docs/cli.md has no '### `backstop {name}`' section"
    section = CLI_DOC[name]
    for param in COMMANDS[path].params:
        if getattr(param, "hidden", False):
            continue
        if isinstance(param, click.Argument):
            assert param.name.upper() in section, f"backstop {name}: argument {param.name.upper()}"
        else:
            longest = max(param.opts, key=len)
            assert f"`{longest}" in section, f"backstop {name}: option {longest}"


def test_it_documents_no_command_that_does_not_exist():
    real = {" ".join(path) for path in COMMANDS}
    assert set(CLI_DOC) <= real, f"documented but not commands: {sorted(set(CLI_DOC) - real)}"


# Getting started and troubleshooting


SEED_STEPS = [
    "1. Connect Stripe",
    "2. Verify a send domain (optional, recommended)",
    "3. Build & publish your first cancel flow",
    "4. Embed it (and close the Stripe bypass)",
    "5. Watch recoveries roll in",
]


def test_it_walks_through_the_seeds_five_steps_in_order():
    text = (DOCS / "getting-started.md").read_text()
    headings = re.findall(r"^## (\d\. .+)$", text, flags=re.M)
    assert headings == SEED_STEPS


def test_it_keeps_the_products_names_for_nav_items_and_labels():
    text = (DOCS / "getting-started.md").read_text()
    for words in (
        "Get set up",
        "Overview",
        "Connect Stripe",
        "testmode",
        "livemode",
        "Settings → Send domain",
        "Verify DNS",
        "Cancel flows",
        "Use template",
        "Publish",
        "Cancel flows → Embed on your site",
        "Backstop.cancel",
        "Recovery",
        "Settings → API tokens",
        "Settings → Pause recovery",
        "Mark as done",
    ):
        assert words in text, words


@pytest.mark.parametrize(
    ("problem", "fix"),
    [
        ("already in use", "BACKSTOP_PORT"),
        ("not writable", "chown"),
        ("is a file, not a folder", "BACKSTOP_DATA_DIR"),
        ("is not a readable SQLite database", "backstop backup"),
        ("secret key", "rotate"),
    ],
)
def test_it_explains_each_startup_error_with_its_fix(problem, fix):
    text = (DOCS / "troubleshooting.md").read_text()
    matching = [part for part in re.split(r"^###? ", text, flags=re.M) if problem in part]
    assert matching, f"troubleshooting.md doesn't cover '{problem}'"
    assert any(fix in part for part in matching), f"no fix for '{problem}'"


# Outbound webhook events

WEBHOOK_DOC = sections(DOCS / "webhooks.md", r"`([a-z_]+\.[a-z_]+|ping)`")


def test_it_documents_every_outbound_webhook_event():
    from backstop.webhooks_out.events import EVENT_TYPES, PING

    missing = [t for t in [*EVENT_TYPES, PING] if not any(t in title for title in WEBHOOK_DOC)]
    assert missing == [], f"docs/webhooks.md has no '### `TYPE`' section for {missing}"


def test_it_documents_no_event_that_does_not_exist():
    from backstop.webhooks_out.events import EVENT_TYPES, PING

    assert set(WEBHOOK_DOC) <= {*EVENT_TYPES, PING}
