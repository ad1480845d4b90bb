"""Imports run one way: web → domains → connectors/db/lib, and jobs → domains.

A domain that imported the web layer, or a connector that imported a domain, would tie the
product's rules to one way of reaching them; this test fails the first time that happens.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Modules every layer may use.
FOUNDATION = {"backstop.lib", "backstop.db", "backstop.clock", "backstop.settings", "backstop.paths"}
ENTRY_POINTS = {
    "backstop.cli",
    "backstop.cli_flows",
    "backstop.server",
    "backstop.checks",
    "backstop.backup",
    "backstop.desktop",
    "backstop.demo_server",
}


def layer_of(module: str) -> str:
    parts = module.split(".")
    if parts[0] == "jobs":
        return "jobs"
    if parts[0] != "backstop" or len(parts) == 1:
        return "external"
    top = ".".join(parts[:2])
    if top in FOUNDATION:
        return "foundation"
    if top in ENTRY_POINTS:
        return "entry"
    if top == "backstop.web":
        return "web"
    if top == "backstop.connectors":
        return "connectors"
    return "domain"


ALLOWED = {
    "foundation": {"foundation", "external"},
    "connectors": {"connectors", "foundation", "external"},
    "domain": {"domain", "connectors", "foundation", "external"},
    "jobs": {"jobs", "domain", "connectors", "foundation", "external"},
    "web": {"web", "jobs", "domain", "foundation", "external"},
    "entry": {"entry", "web", "jobs", "domain", "connectors", "foundation", "external"},
}


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


SOURCES = sorted([*ROOT.joinpath("backstop").rglob("*.py"), *ROOT.joinpath("jobs").rglob("*.py")])


def test_it_finds_the_code_it_guards():
    names = {module_name(p) for p in SOURCES}
    assert {"backstop.web.app", "backstop.workspaces.admins", "jobs.queue", "backstop.db"} <= names


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_it_keeps_imports_flowing_one_way(path: Path):
    source_layer = layer_of(module_name(path))
    wrong = [
        f"line {line}: {source_layer} imports {target} ({layer_of(target)})"
        for line, target in imports_of(path)
        if layer_of(target) not in ALLOWED[source_layer]
    ]
    assert not wrong, "\n".join(wrong)


def test_it_catches_a_domain_importing_the_web_layer(tmp_path: Path):
    assert layer_of("backstop.web.app") not in ALLOWED[layer_of("backstop.workspaces.admins")]
    assert layer_of("backstop.workspaces") not in ALLOWED[layer_of("backstop.connectors.stripe")]
    assert layer_of("jobs.queue") not in ALLOWED[layer_of("backstop.recovery.policy")]


# --- One write transaction -------------------------------------------------------------------
# A deferred BEGIN (what sqlite-utils' db.atomic() issues outside a transaction) fails at once
# with "database is locked" when another connection committed in between; the busy timeout is
# never consulted. backstop.db.write_transaction (BEGIN IMMEDIATE) is the one way to write.

TRANSACTION_SOURCES = sorted(
    p
    for folder in ("backstop", "jobs", "bench", "scripts")
    for p in ROOT.joinpath(folder).rglob("*.py")
    if not p.is_relative_to(ROOT / "backstop" / "db")
)
BEGIN_STATEMENT = re.compile(
    r"\s*BEGIN(\s+(DEFERRED|IMMEDIATE|EXCLUSIVE))?(\s+TRANSACTION)?\s*;?\s*$", re.IGNORECASE
)


def transaction_violations(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "atomic":
            found.append(
                f"line {node.lineno}: .atomic() opens a deferred transaction; use write_transaction(db)"
            )
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and BEGIN_STATEMENT.fullmatch(node.value)
        ):
            found.append(f"line {node.lineno}: a hand-written BEGIN; use write_transaction(db)")
    return found


@pytest.mark.parametrize("path", TRANSACTION_SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_it_opens_every_writing_transaction_through_write_transaction(path: Path):
    wrong = transaction_violations(path.read_text())
    assert not wrong, "\n".join(wrong)


def test_it_catches_a_deferred_transaction():
    assert transaction_violations("with db.atomic():\n    db.execute('UPDATE t SET a = 1')\n")
    assert transaction_violations("db.execute('BEGIN')\n")
    assert transaction_violations("db.conn.execute('begin deferred')\n")
    assert not transaction_violations("with write_transaction(db):\n    db.execute('UPDATE t SET a = 1')\n")
    assert not transaction_violations('"""Begin here: a docstring."""\n')


# --- Stripe's mirrored tables have one owner ---------------------------------------------------
# backstop/stripe_sync owns the stripe_* tables; everyone else calls its functions (its
# lookups module holds the one rule for a plan's name and a paying card).

STRIPE_TABLE_SQL = re.compile(r"\b(FROM|JOIN|UPDATE|INTO)\s+stripe_\w+", re.IGNORECASE)
STRIPE_SQL_SOURCES = sorted(
    p
    for folder in ("backstop", "jobs")
    for p in ROOT.joinpath(folder).rglob("*.py")
    if not p.is_relative_to(ROOT / "backstop" / "stripe_sync")
    and p != ROOT / "backstop" / "db" / "migrations.py"
)


def stripe_table_sql(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            found += [f"line {node.lineno}: {m.group(0)}" for m in STRIPE_TABLE_SQL.finditer(node.value)]
    return found


@pytest.mark.parametrize("path", STRIPE_SQL_SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_it_reads_stripes_tables_only_through_stripe_sync(path: Path):
    wrong = stripe_table_sql(path.read_text())
    assert not wrong, "use a function of backstop.stripe_sync (lookups) instead:\n" + "\n".join(wrong)


def test_it_catches_sql_on_a_stripe_table():
    assert stripe_table_sql('db.execute("SELECT email FROM stripe_customers WHERE id = ?")\n')
    assert stripe_table_sql('q = "SELECT 1 FROM campaigns c " "LEFT JOIN stripe_prices p ON 1"\n')
    assert stripe_table_sql('q = f"UPDATE stripe_backfills SET x = {y}"\n')
    assert not stripe_table_sql('from backstop.stripe_sync import lookups\nx = "stripe_customers"\n')


# --- Test builders live in one place ------------------------------------------------------------

TEST_SOURCES = sorted(ROOT.joinpath("tests").rglob("*.py"))


def imports_of_test_modules(path: Path) -> list[str]:
    return [
        f"line {line}: {target}"
        for line, target in imports_of(path)
        if target.startswith("tests.") and target.rsplit(".", 1)[-1].startswith("test_")
    ]


@pytest.mark.parametrize("path", TEST_SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_test_module_imports_another(path: Path):
    wrong = imports_of_test_modules(path)
    assert not wrong, "move what is shared to tests/builders.py:\n" + "\n".join(wrong)


# --- SQL lives in the domains ------------------------------------------------------------------

SQL_STATEMENT = re.compile(
    r"^\s*(SELECT|INSERT|UPDATE|DELETE|REPLACE|WITH)\s"
)  # SQL is written in capitals here
WEB_AND_CLI = sorted([*ROOT.joinpath("backstop", "web").rglob("*.py"), ROOT / "backstop" / "cli.py"])


def sql_statements(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.JoinedStr):
            node = next((v for v in node.values if isinstance(v, ast.Constant)), None)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL_STATEMENT.match(node.value):
            found.append(f"line {node.lineno}: {node.value[:60]}")
    return found


@pytest.mark.parametrize("path", WEB_AND_CLI, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_web_layer_and_the_cli_call_domain_functions_instead_of_sql(path: Path):
    wrong = sql_statements(path.read_text())
    assert not wrong, "move the query into the domain that owns the table:\n" + "\n".join(wrong)


def test_it_catches_sql_in_a_handler():
    assert sql_statements('db.execute("SELECT slug FROM workspaces WHERE id = ?", [1])\n')
    assert sql_statements('sql = f"UPDATE {table} SET a = 1"\n')
    assert not sql_statements('text = "Select a plan from the list"\n')
