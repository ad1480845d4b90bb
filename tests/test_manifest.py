"""The capability manifest lists every module that registers something, and load() registers it all.

A handler, task or work table left out of ``backstop.manifest`` would run in the entry points that
happened to import its module and silently not in the others.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from backstop import manifest
from backstop.stripe_sync import events
from jobs import sweeper

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted([*ROOT.joinpath("backstop").rglob("*.py"), *ROOT.joinpath("jobs").rglob("*.py")])
LISTED_ELSEWHERE = {"backstop.manifest", "jobs.sweeper"}  # the registry itself


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _callee(node: ast.expr) -> str:
    func = node.func if isinstance(node, ast.Call) else node
    if isinstance(func, ast.Attribute):
        owner = func.value.id if isinstance(func.value, ast.Name) else ""
        return f"{owner}.{func.attr}"
    return func.id if isinstance(func, ast.Name) else ""


def registrations(source: str) -> set[str]:
    """What a module registers on import: 'handler', 'task' and/or 'work_table'."""
    kinds: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for decorator in node.decorator_list:
                name = _callee(decorator)
                if name in ("on", "events.on"):
                    kinds.add("handler")
                elif name in ("huey.task", "huey.periodic_task"):
                    kinds.add("task")
        elif isinstance(node, ast.Call) and _callee(node) in ("sweeper.register", "register"):
            kinds.add("work_table")
    return kinds


def test_it_lists_every_module_that_registers_a_handler_a_task_or_a_work_table():
    listed = set(manifest.handler_modules()) | set(manifest.task_modules())
    found = {module_name(p): registrations(p.read_text()) for p in SOURCES}
    registering = {name for name, kinds in found.items() if kinds} - LISTED_ELSEWHERE
    assert registering, "the scan found nothing: it no longer recognises registrations"
    assert not registering - listed, f"not in backstop/manifest.py: {sorted(registering - listed)}"
    handlers = {name for name, kinds in found.items() if "handler" in kinds}
    assert handlers <= set(manifest.handler_modules()), "a handler module is listed only as a task module"


def test_the_scan_catches_an_unlisted_handler_task_or_work_table():
    assert registrations("@on('invoice.paid')\ndef f(ctx): ...\n") == {"handler"}
    assert registrations("@huey.periodic_task(crontab())\ndef f(): ...\n") == {"task"}
    assert registrations("sweeper.register('cancel_sessions', run)\n") == {"work_table"}
    assert registrations("def f():\n    return on\n") == set()


def test_load_registers_every_listed_work_table_and_event_type():
    manifest.load()
    assert {t for t, _ in manifest.work_tables()} == set(sweeper.QUEUES)
    for table, target in manifest.work_tables():
        module, _, attr = target.partition(":")
        assert sweeper.QUEUES[table].task is getattr(sys.modules[module], attr)
    declared = set()
    for name in manifest.handler_modules():
        tree = ast.parse(Path(sys.modules[name].__file__).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _callee(node) in ("on", "events.on"):
                declared |= {a.value for a in node.args if isinstance(a, ast.Constant)}
    assert "customer.subscription.trial_will_end" in declared
    assert declared <= set(events.HANDLERS)


NOT_LOADED = """
import json, sys
from backstop.db import connect, migrate
from backstop.stripe_sync import events
import jobs.stripe  # what `stripe replay` imported before the manifest: no reminder handlers

migrate(sys.argv[1])
db = connect(sys.argv[1])
db.execute("INSERT INTO workspaces (name, slug, embed_secret_enc, created_at) VALUES ('A', 'a', 'x', '2026-01-01')")
event = {"id": "evt_1", "type": "customer.subscription.trial_will_end", "created": 1, "livemode": False,
         "data": {"object": {"id": "sub_1", "object": "subscription", "customer": "cus_1"}}}
row_id, _ = events.ingest_event(db, 1, event, "webhook")
try:
    events.process_event(db, row_id, lambda ws: None)
except RuntimeError as exc:
    print("refused:", exc)
row = db.execute("SELECT outcome, work_state FROM stripe_events WHERE id = ?", [row_id]).fetchone()
print(json.dumps([row[0], row[1]]))
"""


def test_an_event_is_never_marked_ignored_because_its_handler_module_was_not_imported(tmp_path):
    # A fresh interpreter: this test process has loaded the manifest already.
    done = subprocess.run(
        [sys.executable, "-c", NOT_LOADED, str(tmp_path / "backstop.db")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    assert "refused: event handlers are not loaded" in done.stdout
    assert done.stdout.strip().splitlines()[-1] == '[null, "pending"]'
