"""The ``backstop`` command."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.console import Console

from backstop import __version__
from backstop.settings import ConfigError, Settings

err = Console(stderr=True)
out = Console()


def load_settings(**overrides) -> Settings:
    try:
        return Settings.from_env().with_overrides(**overrides)
    except ConfigError as exc:
        fail(str(exc))


def fail(message: str, code: int = 2):
    err.print(f"[bold red]Error:[/] {message}", highlight=False, soft_wrap=True)
    sys.exit(code)


def prepared(settings: Settings) -> Settings:
    """Settings with the data dir checked, the secret key resolved and migrations applied."""
    from backstop.checks import run_startup_checks
    from backstop.db import migrate

    try:
        settings = run_startup_checks(settings, check_port=False)
    except ConfigError as exc:
        fail(str(exc))
    migrate(settings.db_path)
    return settings


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="backstop")
def main() -> None:
    """Backstop: recover failed payments, save cancels and win customers back, on your own box."""
    from backstop import manifest

    manifest.load()  # every command sees the same handlers, tasks and work tables as the server


@main.command()
@click.option("--host", help="Address to listen on (BACKSTOP_HOST, default 127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535), help="Port (BACKSTOP_PORT, default 8750).")
def serve(host: str | None, port: int | None) -> None:
    """Run the admin, public pages, API and background jobs in one process."""
    from backstop.server import serve as run

    settings = load_settings(host=host, port=port)
    try:
        run(settings)
    except ConfigError as exc:
        fail(str(exc))


@main.command()
@click.option(
    "--port", type=click.IntRange(1, 65535), default=8760, show_default=True, help="Port to listen on."
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("./demo-data"),
    show_default=True,
    help="Folder for the sample data; emptied on every start. Never your real data folder.",
)
def demo(port: int, data_dir: Path) -> None:
    """Try Backstop with sample data: Demo Co, 200 customers and a year of billing, no Stripe account."""
    from backstop.demo_server import run

    try:
        real = Settings.from_env().data_dir
    except ConfigError:
        real = None
    try:
        run(data_dir, port, real)
    except ConfigError as exc:
        fail(str(exc))


@main.command()
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the data (BACKSTOP_DATA_DIR; default: the user data folder, "
    "e.g. ~/.local/share/Backstop).",
)
@click.option(
    "--url", help="Open the admin of a Backstop running elsewhere instead, e.g. https://backstop.example.com."
)
@click.option("--admin", "admin_email", help="Sign in as this admin (default: the first one created).")
@click.option("--probe", type=click.Path(dir_okay=False, path_type=Path), hidden=True)
def desktop(data_dir: Path | None, url: str | None, admin_email: str | None, probe: Path | None) -> None:
    """Open the admin in a window of its own, with Backstop running on this computer."""
    from backstop.desktop import DesktopError, desktop_data_dir, run_local, run_remote

    folder = desktop_data_dir(data_dir)
    try:
        if url:
            run_remote(url, data_dir=folder, probe=probe)
            return
        settings = load_settings().with_overrides(data_dir=folder)
        if not run_local(settings, admin_email=admin_email, probe=probe):
            sys.exit(1)
    except DesktopError as exc:
        fail(str(exc))


@main.command()
def migrate() -> None:
    """Apply pending database migrations and list them."""
    from backstop.db import migrate as apply

    settings = load_settings()
    from backstop.checks import check_data_dir, check_database

    try:
        check_data_dir(settings.data_dir)
        check_database(settings.db_path)
    except ConfigError as exc:
        fail(str(exc))
    applied = apply(settings.db_path)
    if applied:
        for name in applied:
            out.print(f"applied {name}")
    else:
        out.print("The database is up to date.")


@main.command()
@click.option("--host", help="Address to check (BACKSTOP_HOST).")
@click.option("--port", type=click.IntRange(1, 65535), help="Port to check (BACKSTOP_PORT).")
def check(host: str | None, port: int | None) -> None:
    """Run the startup checks without starting the server."""
    from backstop.checks import run_startup_checks
    from backstop.lib.filemodes import too_open

    settings = load_settings(host=host, port=port)
    for path, mode, wanted in too_open(settings.data_dir):
        fix = "" if path.parent.name == "backups" else " (Backstop also tightens it on its next start)"
        out.print(
            f"[yellow]warning[/] {path} has mode {mode:04o}: other users on this machine can "
            f"{'read' if mode & 0o044 else 'open'} it. Fix it with: chmod {wanted:o} {path}{fix}",
            highlight=False,
            soft_wrap=True,
        )
    try:
        settings = run_startup_checks(settings)
    except ConfigError as exc:
        fail(str(exc))
    out.print(
        f"[green]OK[/] data in {settings.data_dir.resolve()}, "
        f"will listen on {settings.host}:{settings.port}, public URL {settings.public_url}",
        highlight=False,
    )


@main.command()
@click.argument("path", type=click.Path(path_type=Path))
def backup(path: Path) -> None:
    """Copy backstop.db and jobs.db into the folder PATH while Backstop keeps running."""
    from backstop.backup import BackupError, backup_databases

    settings = load_settings()
    try:
        written = backup_databases(settings, path, progress=True)
    except BackupError as exc:
        fail(str(exc))
    for file in written:
        out.print(f"wrote {file}", highlight=False)


@main.command("export")
@click.option("--workspace", "slug", required=True, help="The workspace's slug.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "jsonl"]),
    default="csv",
    show_default=True,
    help="File format.",
)
@click.option(
    "--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="A new or empty folder."
)
def export_command(slug: str, fmt: str, out: Path) -> None:
    """Write everything a workspace holds into OUT: one file per table, README.txt and manifest.json."""
    from backstop.db import opened
    from backstop.export import ExportError, Workspace, export_to_dir
    from backstop.workspaces.workspaces import get_workspace_by_slug

    settings = prepared(load_settings())
    with opened(settings.db_path) as db:
        row = get_workspace_by_slug(db, slug)
        if row is None:
            fail(f"No workspace has the slug {slug!r}; 'backstop workspace create' makes one.")
        try:
            written = export_to_dir(db, Workspace(row["id"], row["slug"], row["name"]), fmt, out)
        except ExportError as exc:
            fail(str(exc))
    _say(f"wrote {len(written)} files to {out.resolve()}; README.txt describes each one.")


@main.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="The data folder to restore into (BACKSTOP_DATA_DIR, default ./data).",
)
@click.option(
    "--secret-key-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Copy this secret_key file into the data folder too (the key the backed-up secrets need).",
)
@click.option("--force", is_flag=True, help="Replace the database of a data folder that already has one.")
def restore(file: Path, data_dir: Path | None, secret_key_file: Path | None, force: bool) -> None:
    """Put a 'backstop backup' file (backstop-….db) back as the data folder's database."""
    from backstop.backup import BackupError, restore_database

    settings = load_settings(data_dir=data_dir) if data_dir else load_settings()
    try:
        result = restore_database(settings, file, force=force, secret_key_file=secret_key_file)
    except BackupError as exc:
        fail(str(exc))
    count = f"{result.workspaces} workspace{'' if result.workspaces == 1 else 's'}"
    _say(f"restored {file} into {result.db_path} ({count}). Start Backstop on {result.db_path.parent}.")
    if result.warning:
        err.print(f"[bold yellow]Warning:[/] {result.warning}", highlight=False, soft_wrap=True)


def _say(text: str) -> None:
    out.print(text, highlight=False, soft_wrap=True)


def _read_password_stdin() -> str:
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        fail("No password on standard input; pipe it in, e.g. printf '%s' \"$PW\" | backstop admin create …")
    return password


@main.group()
def admin() -> None:
    """Manage admin accounts."""


@admin.command("create")
@click.option("--email", required=True, help="The admin's email address.")
@click.option("--password-stdin", is_flag=True, required=True, help="Read the password from standard input.")
def admin_create(email: str, password_stdin: bool) -> None:
    """Create an admin (the first one can also be made on the setup page)."""
    from backstop.db import opened
    from backstop.workspaces.admins import create_admin
    from backstop.workspaces.errors import ValidationError
    from backstop.workspaces.workspaces import adopt_orphan_workspaces

    settings = prepared(load_settings())
    password = _read_password_stdin()
    with opened(settings.db_path) as db:
        try:
            created = create_admin(db, email, password)
        except ValidationError as exc:
            fail(exc.message)
        owner_of = adopt_orphan_workspaces(db, created)
    out.print(f"Created admin {created.email}.", highlight=False)
    if owner_of:
        out.print(f"They own {', '.join(owner_of)}, which had no owner.", highlight=False)


@admin.command("set-password")
@click.option("--email", required=True, help="The admin's email address.")
@click.option(
    "--password-stdin", is_flag=True, required=True, help="Read the new password from standard input."
)
def admin_set_password(email: str, password_stdin: bool) -> None:
    """Set a new password for an admin and sign them out everywhere."""
    from backstop.db import opened
    from backstop.workspaces.admins import set_password
    from backstop.workspaces.errors import NotFound, ValidationError

    settings = prepared(load_settings())
    password = _read_password_stdin()
    with opened(settings.db_path) as db:
        try:
            set_password(db, email, password)
        except NotFound:
            fail(f"No admin has the email {email}.")
        except ValidationError as exc:
            fail(exc.message)
    out.print(f"Password changed for {email}; their other sessions were signed out.", highlight=False)


@main.group()
def workspace() -> None:
    """Manage workspaces."""


@workspace.command("create")
@click.option("--name", required=True, help="Display name, usually the product's name.")
@click.option("--slug", help="URL-safe id; made from the name when omitted.")
@click.option("--owner", "owner_email", help="Email of an existing admin to make owner.")
@click.option("--json", "as_json", is_flag=True, help="Print slug and embed_secret as JSON.")
def workspace_create(name: str, slug: str | None, owner_email: str | None, as_json: bool) -> None:
    """Create a workspace and print its embed secret."""
    from backstop.db import opened
    from backstop.lib.crypto import SecretBox
    from backstop.workspaces.admins import find_admin_by_email, first_admin
    from backstop.workspaces.errors import ValidationError
    from backstop.workspaces.workspaces import create_workspace

    settings = prepared(load_settings())
    with opened(settings.db_path) as db:
        owner = None
        if owner_email:
            owner = find_admin_by_email(db, owner_email)
            if owner is None:
                fail(f"No admin has the email {owner_email}; create one with 'backstop admin create'.")
        else:
            owner = first_admin(db)
        try:
            ws, secret = create_workspace(db, SecretBox(settings.secret_key), name, owner, slug)
        except ValidationError as exc:
            fail(exc.message)
    if as_json:
        click.echo(json.dumps({"slug": ws.slug, "name": ws.name, "embed_secret": secret}))
    else:
        out.print(f"Created workspace [bold]{ws.name}[/] ({ws.slug}).", highlight=False)
        out.print(f"Embed secret: {secret}", highlight=False, soft_wrap=True)


@main.group()
def token() -> None:
    """Manage REST API tokens."""


@token.command("create")
@click.option("--workspace", "slug", required=True, help="The workspace's slug.")
@click.option("--name", required=True, help="What will use the token.")
def token_create(slug: str, name: str) -> None:
    """Mint an API token and print it once."""
    from backstop.db import opened
    from backstop.workspaces import checklist
    from backstop.workspaces.errors import ValidationError
    from backstop.workspaces.tokens import create_token
    from backstop.workspaces.workspaces import get_workspace_by_slug

    settings = prepared(load_settings())
    with opened(settings.db_path) as db:
        ws = get_workspace_by_slug(db, slug)
        if ws is None:
            fail(f"No workspace has the slug {slug!r}; list them in the admin or create one.")
        livemode = checklist.mode_label(db, ws["id"]) == "livemode"
        try:
            _, raw = create_token(db, ws["id"], name, livemode)
        except ValidationError as exc:
            fail(exc.message)
    click.echo(raw)
    err.print("Store it now: Backstop keeps only a hash and cannot show it again.", highlight=False)


@token.command("revoke")
@click.option("--workspace", "slug", required=True, help="The workspace's slug.")
@click.argument("prefix")
def token_revoke(slug: str, prefix: str) -> None:
    """Revoke the token whose shown prefix (e.g. bk_test_AbCd1234) is PREFIX."""
    from backstop.db import opened
    from backstop.workspaces.workspaces import get_workspace_by_slug

    settings = prepared(load_settings())
    with opened(settings.db_path) as db:
        ws = get_workspace_by_slug(db, slug)
        if ws is None:
            fail(f"No workspace has the slug {slug!r}.")
        from backstop.workspaces.tokens import active_token_ids_by_prefix, revoke_token

        ids = active_token_ids_by_prefix(db, ws["id"], prefix)
        if len(ids) != 1:
            fail(f"No single active token starts with {prefix!r} in {slug}.")
        revoke_token(db, ws["id"], ids[0])
    out.print(f"Revoked {prefix}.", highlight=False)


@main.group()
def stripe() -> None:
    """Connect Stripe, sync the mirror, replay events."""


def _workspace_id(db, slug: str) -> int:
    from backstop.workspaces.workspaces import get_workspace_by_slug

    ws = get_workspace_by_slug(db, slug)
    if ws is None:
        fail(f"No workspace has the slug {slug!r}; create one with 'backstop workspace create'.")
    return ws["id"]


def _secret_from_file(path: Path, what: str) -> str:
    try:
        value = path.read_text().strip()
    except OSError as exc:
        fail(f"Cannot read the {what} from {path} ({exc.strerror}).")
    if not value:
        fail(f"{path} is empty; it should hold the {what}.")
    return value


def _secrets_for_connect(
    key: str | None, key_file: Path | None, webhook_secret: str | None, webhook_secret_file: Path | None
) -> tuple[str, str | None]:
    """The key and the optional webhook secret: from files, else standard input (a hidden prompt
    at a terminal; otherwise the key on the first line and the webhook secret on the second), or
    from the old flags, which still work but leave the secrets in the process list and history."""
    for flag, given, better in (
        ("--key", key, "--key-file"),
        ("--webhook-secret", webhook_secret, "--webhook-secret-file"),
    ):
        if given:
            err.print(
                f"[yellow]warning[/] {flag} puts the secret in the process list (where any user on "
                f"this machine can read it) and in your shell history. Pipe it on standard input or "
                f"use {better} instead.",
                highlight=False,
                soft_wrap=True,
            )
    if key_file is not None:
        key = _secret_from_file(key_file, "restricted key")
    if webhook_secret_file is not None:
        webhook_secret = _secret_from_file(webhook_secret_file, "webhook signing secret")
    if key:
        return key, webhook_secret
    if sys.stdin.isatty():
        key = click.prompt("Restricted key (rk_…)", hide_input=True, err=True).strip()
        if webhook_secret is None and webhook_secret_file is None:
            webhook_secret = click.prompt(
                "Webhook signing secret (whsec_…; press Enter to poll Stripe instead)",
                hide_input=True,
                default="",
                show_default=False,
                err=True,
            ).strip()
        return key, webhook_secret or None
    lines = sys.stdin.read().splitlines()
    key = lines[0].strip() if lines else ""
    if not key:
        fail(
            "No restricted key on standard input; pipe it in, e.g. printf '%s\\n' \"$KEY\" | "
            "backstop stripe connect --workspace SLUG, or use --key-file."
        )
    if webhook_secret is None and len(lines) > 1 and lines[1].strip():
        webhook_secret = lines[1].strip()
    return key, webhook_secret


@stripe.command("connect")
@click.option("--workspace", "slug", required=True, help="The workspace's slug.")
@click.option(
    "--key-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A file holding the restricted key. Without it the key is read from standard input.",
)
@click.option(
    "--webhook-secret-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A file holding the webhook signing secret (whsec_…).",
)
@click.option("--key", help="The key itself (deprecated: it shows in the process list).")
@click.option(
    "--webhook-secret", help="The signing secret itself (deprecated: it shows in the process list)."
)
@click.option("--no-sync", is_flag=True, help="Don't copy the account now (the server's jobs will).")
def stripe_connect(
    slug: str,
    key_file: Path | None,
    webhook_secret_file: Path | None,
    key: str | None,
    webhook_secret: str | None,
    no_sync: bool,
) -> None:
    """Connect a workspace with a restricted key, checking every permission it needs."""
    from backstop.db import opened
    from backstop.lib.crypto import SecretBox
    from backstop.stripe_sync import service
    from backstop.workspaces.errors import ValidationError

    key, webhook_secret = _secrets_for_connect(key, key_file, webhook_secret, webhook_secret_file)
    settings = prepared(load_settings())
    with opened(settings.db_path) as db:
        ws_id = _workspace_id(db, slug)
        try:
            with err.status("Checking the key's permissions with Stripe…"):
                result = service.connect_restricted_key(
                    db, SecretBox(settings.secret_key), settings, ws_id, slug, key, webhook_secret
                )
        except ValidationError as exc:
            fail(exc.message)
    mode = "live mode" if result.livemode else "test mode"
    how = "webhooks" if result.webhook == "pasted" else "polling every minute"
    out.print(f"Connected {slug} in {mode}; events arrive by {how}.", highlight=False)
    if result.missing_optional:
        out.print(f"Optional permissions not granted: {', '.join(result.missing_optional)}.", highlight=False)
    if not no_sync:
        _sync(settings, ws_id, result.backfill_id)


def _sync(settings, ws_id: int, backfill_id: int) -> None:
    from rich.progress import BarColumn, Progress, TextColumn

    from backstop.db import opened
    from backstop.lib.crypto import SecretBox
    from backstop.stripe_sync import backfill, connection

    box = SecretBox(settings.secret_key)
    with (
        opened(settings.db_path) as db,
        Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[synced]} objects"),
            console=err,
        ) as bar,
    ):
        task = bar.add_task("Syncing from Stripe", total=100, synced=0)

        def on_page(p) -> None:
            bar.update(
                task, completed=p.percent, synced=p.synced, description=f"Syncing {p.stage_label.lower()}"
            )

        outcome = backfill.run(db, backfill_id, lambda w: connection.gateway(db, box, settings, w), on_page)
        final = backfill.progress(db, ws_id)
        bar.update(task, completed=final.percent if final else 0)
    if outcome is None:
        fail("Another process is running this sync right now; watch its progress in the admin.", code=1)
    if outcome != "done":
        fail(
            f"The sync stopped: {final.last_error if final else outcome}. It resumes where it stopped when run again.",
            code=1,
        )
    out.print(
        f"Synced {final.synced} objects: "
        + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in final.counts.items()),
        highlight=False,
    )


@stripe.command("sync")
@click.option("--workspace", "slug", required=True, help="The workspace's slug.")
@click.option("--restart", is_flag=True, help="Start over instead of resuming an unfinished sync.")
def stripe_sync(slug: str, restart: bool) -> None:
    """Copy (or finish copying) the Stripe account into Backstop, with a progress bar."""
    from backstop.db import opened
    from backstop.stripe_sync import backfill, connection

    settings = prepared(load_settings())
    with opened(settings.db_path) as db:
        ws_id = _workspace_id(db, slug)
        if connection.get(db, ws_id) is None:
            fail(f"Stripe isn't connected for {slug}; run 'backstop stripe connect' first.")
        backfill_id = backfill.resume_or_start(db, ws_id, restart=restart)
    _sync(settings, ws_id, backfill_id)


@stripe.command("replay")
@click.option("--workspace", "slug", required=True, help="The workspace's slug.")
@click.option(
    "--since",
    type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]),
    help="Only events created at or after this UTC date/time.",
)
def stripe_replay(slug: str, since) -> None:
    """Run stored events through processing again, oldest first (same path as new events)."""
    from datetime import UTC

    from rich.progress import Progress

    from backstop.db import opened
    from backstop.lib.crypto import SecretBox
    from backstop.stripe_sync import connection, events

    settings = prepared(load_settings())
    box = SecretBox(settings.secret_key)
    with opened(settings.db_path) as db:
        ws_id = _workspace_id(db, slug)
        since_ts = int(since.replace(tzinfo=UTC).timestamp()) if since else None
        ids = events.replay(db, ws_id, since_ts)

        def fetch_for(workspace_id: int):
            gateway = connection.gateway(db, box, settings, workspace_id)
            return lambda path, params=None: gateway.get(path, params)

        outcomes: dict[str, int] = {}
        with Progress(console=err, transient=True) as bar:
            task = bar.add_task("Replaying events", total=len(ids))
            for row_id in ids:
                outcome = events.process_event(db, row_id, fetch_for, settings) or "skipped"
                outcomes[outcome] = outcomes.get(outcome, 0) + 1
                bar.advance(task)
    summary = ", ".join(f"{n} {k}" for k, n in sorted(outcomes.items())) or "nothing to replay"
    out.print(f"Replayed {len(ids)} events: {summary}.", highlight=False)


@main.group()
def webhooks() -> None:
    """Outbound webhooks."""


@webhooks.command("replay")
@click.option("--endpoint", "endpoint_id", required=True, help="The endpoint's id, we_….")
@click.option(
    "--since",
    required=True,
    type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M"]),
    help="Replay events created at or after this UTC date/time.",
)
@click.option(
    "--until",
    type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M"]),
    help="Only events created before this UTC date/time (default: now).",
)
def webhooks_replay(endpoint_id: str, since, until) -> None:
    """Send an endpoint every logged event of a period again, with their original ids."""
    from datetime import UTC

    from backstop import clock
    from backstop.db import opened
    from backstop.lib import workrows
    from backstop.webhooks_out import delivery, endpoints
    from jobs import queue
    from jobs.sweeper import enqueue_ready

    settings = prepared(load_settings())
    # The deliveries go into the jobs queue in jobs.db as they commit: the running server's
    # consumer sends them at once instead of at its next sweep.
    queue.configure(settings)
    workrows.on_ready(enqueue_ready)
    if until is not None and until <= since:
        fail("--until must come after --since.")
    with opened(settings.db_path) as db:
        endpoint = endpoints.find_by_public_id(db, endpoint_id.strip())
        if endpoint is None:
            fail(
                f"No webhook endpoint {endpoint_id}; copy its id (we_…) from its page under Settings → Outbound webhooks."
            )
        ids = delivery.replay(
            db,
            endpoint.workspace_id,
            endpoint.public_id,
            clock.iso(since.replace(tzinfo=UTC)),
            clock.iso(until.replace(tzinfo=UTC)) if until else None,
        )
    if not ids:
        out.print("The event log holds no event in that period; nothing to replay.", highlight=False)
        return
    out.print(
        f"Queued {len(ids)} events for {endpoint.url}. The running server sends them within "
        "seconds; follow them in the endpoint's delivery log.",
        highlight=False,
    )


@main.group()
def recovery() -> None:
    """Failed-payment recovery."""


@recovery.command("backtest")
@click.option("--workspace", "slug", required=True, help="The workspace's slug.")
@click.option(
    "--days", type=click.IntRange(1, 365), default=90, show_default=True, help="How far back to replay."
)
@click.option(
    "--policy",
    "policy_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A retry policy file (JSON, as saved) to compare with the saved policy.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the full result as JSON.")
def recovery_backtest(slug: str, days: int, policy_file: Path | None, as_json: bool) -> None:
    """Replay the last DAYS days of failed invoices against the saved retry policy (and a draft)."""
    from rich.markup import escape
    from rich.table import Table

    from backstop.db import opened
    from backstop.lib.forms import FieldErrors
    from backstop.recovery import backtest
    from backstop.recovery.campaigns import get_policy
    from backstop.recovery.policy import policy_from_file_text

    settings = prepared(load_settings())
    with opened(settings.db_path) as db:
        ws_id = _workspace_id(db, slug)
        current = get_policy(db, ws_id)
        draft = None
        if policy_file is not None:
            try:
                text = policy_file.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                fail(f"Can't read the policy file {policy_file}: {getattr(exc, 'strerror', None) or exc}.")
            try:
                draft = policy_from_file_text(current, text)
            except FieldErrors as exc:
                lines = "\n".join(
                    f"  - {message}" if name == "form" else f"  - {name}: {message}"
                    for name, message in exc.items()
                )
                fail(escape(f"The policy file {policy_file} can't be used:\n{lines}"))
        comparison = backtest.backtest(db, ws_id, draft, days=days, current=current)
    if as_json:
        click.echo(json.dumps(comparison.to_dict(slug), indent=2))
        return
    snapshot = comparison.snapshot
    out.print(
        f"{len(snapshot.invoices):,} failed invoices in the last {days} days "
        f"({snapshot.since:%Y-%m-%d} to {snapshot.until:%Y-%m-%d}).",
        highlight=False,
    )
    table = Table(show_header=True, header_style="bold")
    table.add_column("")
    for name in comparison.reports:
        table.add_column(
            "Saved policy" if name == "current" else f"Draft ({policy_file.name})", justify="right"
        )
    for row in backtest.summary_rows(comparison):
        table.add_row(row["label"], *row["values"])
    out.print(table)
    out.print("What a backtest can't know:", highlight=False)
    for limit in backtest.LIMITS:
        out.print(f"  - {limit}", highlight=False)


if __name__ == "__main__":
    main()


from backstop.cli_flows import flows  # noqa: E402 - the group needs this module's helpers first

main.add_command(flows)
