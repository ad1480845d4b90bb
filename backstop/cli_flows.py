"""``backstop flows …``: cancel flows from the command line, as JSON documents."""

from __future__ import annotations

import json
from pathlib import Path

import click

from backstop.cli import _workspace_id, err, fail, load_settings, out, prepared


@click.group()
def flows() -> None:
    """Cancel flows: templates, export, import and publish."""


def _problems_text(problems) -> str:
    return "\n".join(
        f"  - {p.node_id or 'flow'}{' · ' + p.field if p.field else ''}: {p.message}" for p in problems
    )


@flows.command("templates")
def flows_templates() -> None:
    """List the twelve templates by name."""
    from backstop.cancel_flows.templates import NAMES

    for name in NAMES:
        click.echo(name)


@flows.command("use-template")
@click.option("--workspace", "slug", required=True, help="The workspace's slug.")
@click.option("--template", "name", required=True, help="A template name from 'backstop flows templates'.")
@click.option("--json", "as_json", is_flag=True, help="Print flow_id, version and status as JSON.")
def flows_use_template(slug: str, name: str, as_json: bool) -> None:
    """Create a flow from a template; publish v1 at once when nothing is left to fill in."""
    from backstop.cancel_flows.templates import use_template
    from backstop.db import opened
    from backstop.workspaces.errors import ValidationError

    settings = prepared(load_settings())
    with opened(settings.db_path) as db:
        ws_id = _workspace_id(db, slug)
        try:
            used = use_template(db, ws_id, name)
        except ValidationError as exc:
            fail(exc.message)
    if as_json:
        click.echo(json.dumps({"flow_id": used.flow.id, "version": used.version, "status": used.status}))
        return
    if used.status == "published":
        out.print(
            f"Created flow {used.flow.id} ({used.flow.name}) and published v{used.version}.", highlight=False
        )
    elif used.publish.status == "pending_approval":
        out.print(
            f"Created flow {used.flow.id} ({used.flow.name}) as a draft; publishing waits for an owner's "
            "approval:\n" + "\n".join(f"  - {r}" for r in used.publish.approval_reasons),
            highlight=False,
        )
    else:
        out.print(
            f"Created flow {used.flow.id} ({used.flow.name}) as a draft. Fill in before publishing:\n"
            + _problems_text(used.publish.problems),
            highlight=False,
        )


@flows.command("export")
@click.option("--workspace", "slug", required=True, help="The workspace's slug.")
@click.option("--flow", "flow_id", required=True, type=int, help="The flow's id.")
def flows_export(slug: str, flow_id: int) -> None:
    """Print a flow's draft as a JSON document (the format 'flows import' reads)."""
    from backstop.cancel_flows.flows import get_flow
    from backstop.db import opened

    settings = prepared(load_settings())
    with opened(settings.db_path) as db:
        ws_id = _workspace_id(db, slug)
        record = get_flow(db, ws_id, flow_id)
        if record is None:
            fail(
                f"Workspace {slug} has no flow {flow_id}; 'backstop flows use-template' prints the ids it makes."
            )
    click.echo(json.dumps(record.draft_json, indent=2, ensure_ascii=False))


@flows.command("import")
@click.option("--workspace", "slug", required=True, help="The workspace's slug.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def flows_import(slug: str, file: Path) -> None:
    """Create a draft flow from a JSON document; prints the new flow's id."""
    from backstop.cancel_flows import document
    from backstop.cancel_flows.flows import create_flow
    from backstop.db import opened

    try:
        flow = document.loads(file.read_bytes())
    except document.DocumentError as exc:
        fail(f"{file.name}: {exc}")
    settings = prepared(load_settings())
    with opened(settings.db_path) as db:
        ws_id = _workspace_id(db, slug)
        record = create_flow(db, ws_id, flow)
    click.echo(record.id)
    problems = document.validate(flow)
    if problems:
        err.print(
            f"Imported as a draft; fix these before publishing:\n{_problems_text(problems)}", highlight=False
        )


@flows.command("publish")
@click.option("--workspace", "slug", required=True, help="The workspace's slug.")
@click.option("--flow", "flow_id", required=True, type=int, help="The flow's id.")
def flows_publish(slug: str, flow_id: int) -> None:
    """Publish a flow's draft as its next version."""
    from backstop.cancel_flows.flows import get_flow, publish
    from backstop.db import opened

    settings = prepared(load_settings())
    with opened(settings.db_path) as db:
        ws_id = _workspace_id(db, slug)
        if get_flow(db, ws_id, flow_id) is None:
            fail(f"Workspace {slug} has no flow {flow_id}.")
        result = publish(db, ws_id, flow_id)
    if result.status == "refused":
        fail(f"Flow {flow_id} can't be published yet:\n{_problems_text(result.problems)}", code=1)
    if result.status == "pending_approval":
        fail(
            f"Flow {flow_id} needs an owner's approval in the admin (Overview → Needs you) before it goes live:\n"
            + "\n".join(f"  - {r}" for r in result.approval_reasons),
            code=1,
        )
    out.print(
        f"Published flow {flow_id} as v{result.version.version}; it now gets all of the flow's traffic.",
        highlight=False,
    )
