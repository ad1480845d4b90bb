"""Outbound webhooks' part of an export: your endpoints (never their signing secrets), the
event log, and every delivery and attempt."""

from __future__ import annotations

from sqlite_utils import Database

from backstop.lib.exports import ExportTable, select_table


def export_tables(db: Database, workspace_id: int) -> list[ExportTable]:
    return [
        select_table(
            db,
            "webhook_endpoints",
            "Your webhook endpoints (signing secrets are not exported).",
            [
                ("id", "The endpoint's id, we_…."),
                ("url", "Where events are sent."),
                ("description", "Your note."),
                ("events", "The event types it receives, as JSON."),
                ("enabled", "1 when it receives events."),
                ("failing_since", "Since when its deliveries fail (UTC)."),
                ("disabled_at", "When it was disabled (UTC)."),
                ("disabled_reason", "Why."),
                ("created_at", "When it was added (UTC)."),
            ],
            "webhook_endpoints",
            "workspace_id = ?",
            [workspace_id],
            "id",
            aliases={"id": "public_id"},
        ),
        select_table(
            db,
            "webhook_events",
            "The event log: every event Backstop recorded for your endpoints.",
            [
                ("id", "The event's id, evt_…."),
                ("type", "The event type, e.g. recovery.recovered."),
                ("livemode", "1 for live mode."),
                ("body", "The event as sent, JSON."),
                ("created_at", "When it happened (UTC)."),
            ],
            "webhook_events",
            "workspace_id = ?",
            [workspace_id],
            "id",
            aliases={"id": "public_id"},
        ),
        select_table(
            db,
            "webhook_deliveries",
            "One row per event and endpoint.",
            [
                ("id", "The delivery's id."),
                ("event_id", "The event, evt_…."),
                ("endpoint_id", "The endpoint, we_…."),
                ("reason", "event, test, redeliver or replay."),
                ("status", "pending, delivered, failed or canceled."),
                ("attempts", "Attempts made."),
                ("last_error", "The last attempt's error."),
                ("created_at", "When it was queued (UTC)."),
                ("delivered_at", "When the endpoint accepted it (UTC)."),
            ],
            "webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id "
            "JOIN webhook_endpoints p ON p.id = d.endpoint_id",
            "d.workspace_id = ?",
            [workspace_id],
            "d.id",
            aliases={
                "id": "d.id",
                "event_id": "e.public_id",
                "endpoint_id": "p.public_id",
                "reason": "d.reason",
                "status": "d.status",
                "attempts": "d.attempts",
                "last_error": "d.last_error",
                "created_at": "d.created_at",
                "delivered_at": "d.delivered_at",
            },
        ),
        select_table(
            db,
            "webhook_attempts",
            "Every HTTP attempt of every delivery (request signatures are not exported).",
            [
                ("delivery_id", "The delivery (webhook_deliveries.csv id)."),
                ("attempt", "1 for the first attempt, and so on."),
                ("attempted_at", "When (UTC)."),
                ("response_status", "The HTTP status your endpoint answered."),
                ("response_excerpt", "The start of its answer."),
                ("error", "The connection error, if there was no answer."),
                ("latency_ms", "How long it took, in milliseconds."),
            ],
            "webhook_attempts",
            "delivery_id IN (SELECT id FROM webhook_deliveries WHERE workspace_id = ?)",
            [workspace_id],
            "id",
        ),
    ]
