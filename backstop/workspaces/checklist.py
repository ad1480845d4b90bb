"""The Overview's “Get set up” checklist: five steps, ticked from what is really there.

Steps 1, 2, 3 and 5 read what their capabilities own (the Stripe connection, send domains,
published cancel-flow versions, recovery campaigns). Step 4 cannot be detected and is ticked by
hand.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlite_utils import Database

from backstop.cancel_flows.flows import has_published_version


@dataclass(frozen=True)
class Step:
    number: int
    title: str
    help: str
    done: bool
    manual: bool = False
    link: str = ""
    link_label: str = ""


def _exists(db: Database, table: str, where: str, params: list) -> bool:
    if not db[table].exists():
        return False
    sql = f"SELECT 1 FROM {table} WHERE {where} LIMIT 1"  # noqa: S608 - names are constants
    return db.execute(sql, params).fetchone() is not None


def stripe_connection(db: Database, workspace_id: int) -> dict | None:
    """The workspace's Stripe connection row (status, livemode, …) or None."""
    from backstop.stripe_sync import connection

    return connection.row_of(db, workspace_id)


def mode_label(db: Database, workspace_id: int) -> str | None:
    """'testmode' or 'livemode' as connected, or None before Stripe is connected."""
    conn = stripe_connection(db, workspace_id)
    if conn is None:
        return None
    return "livemode" if conn.get("livemode") else "testmode"


def steps(db: Database, workspace_id: int, slug: str, embed_step_done_at: str | None) -> list[Step]:
    conn = stripe_connection(db, workspace_id)
    base = f"/w/{slug}"
    return [
        Step(
            1,
            "Connect Stripe",
            "Mirror your customers, subscriptions and invoices; the banner clears when done.",
            done=bool(conn and conn.get("status") == "live"),
            link=f"{base}/settings/stripe",
            link_label="Connect Stripe",
        ),
        Step(
            2,
            "Verify a send domain (optional)",
            "Send dunning email from your own subdomain for the best inbox placement.",
            done=_exists(db, "send_domains", "workspace_id = ? AND status = 'verified'", [workspace_id]),
            link=f"{base}/settings/send-domain",
            link_label="Add a send domain",
        ),
        Step(
            3,
            "Build & publish your first cancel flow",
            "Pick a template, tune the offer, simulate it, then publish.",
            done=has_published_version(db, workspace_id),
            link=f"{base}/cancel-flows",
            link_label="Open Cancel flows",
        ),
        Step(
            4,
            "Embed it (and close the Stripe bypass)",
            "Point your “Cancel subscription” button at the flow, then turn off “Cancel "
            "subscriptions” in Stripe's customer portal. Mark this done by hand once both are true.",
            done=embed_step_done_at is not None,
            manual=True,
            link=f"{base}/cancel-flows/embed",
            link_label="Embed on your site",
        ),
        Step(
            5,
            "Watch recoveries roll in",
            "See your first recovery campaign: it opens when Stripe reports a failed renewal.",
            done=_exists(db, "campaigns", "workspace_id = ?", [workspace_id]),
            link=f"{base}/recovery",
            link_label="Open Recovery",
        ),
    ]
