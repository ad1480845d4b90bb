"""0015: a policy saved before rules per decline class keeps its meaning; a paused workspace's
customer email is held from the first start after the upgrade."""

import json

from backstop import clock
from backstop.db import opened
from backstop.db.migrations import migrations
from backstop.recovery.policy import RetryPolicy


def test_an_old_policy_becomes_rules_per_class_and_a_paused_workspace_stays_held(tmp_path):
    path = tmp_path / "backstop.db"
    with opened(path) as db:
        migrations.apply(db, stop_before="0015_split_retry_rules_and_hold_sends")
        now = clock.iso()
        for slug in ("paused", "running"):
            db.execute(
                "INSERT INTO workspaces (slug, name, embed_secret_enc, created_at) VALUES (?, ?, 'enc', ?)",
                [slug, slug, now],
            )
        old = {
            "soft_gaps_days": [2, 4],
            "hard_retries": 2,
            "hard_gap_days": 5,
            "terminal_action": "mark_unpaid",
        }
        db.execute(
            "INSERT INTO recovery_settings (workspace_id, policy, paused_at, updated_at) VALUES (1, ?, ?, ?)",
            [json.dumps({**old, "max_attempts": 5}), now, now],
        )
        db.execute(
            "INSERT INTO recovery_settings (workspace_id, policy, updated_at) VALUES (2, '{}', ?)", [now]
        )
        migrations.apply(db)
        assert [m.name for m in migrations.pending(db)] == []
        policy = RetryPolicy.from_json(
            db.execute("SELECT policy FROM recovery_settings WHERE workspace_id = 1").fetchone()[0]
        )
        assert policy.rule("soft").retry_days() == [2, 6] and policy.rule("hard").retry_days() == [5, 10]
        assert {policy.terminal_action(c) for c in ("soft", "hard", "never")} == {"mark_unpaid"}
        assert policy.max_attempts == 5 and not policy.validate()
        assert (
            RetryPolicy.from_json(
                db.execute("SELECT policy FROM recovery_settings WHERE workspace_id = 2").fetchone()[0]
            )
            == RetryPolicy()
        )
        assert [r[0] for r in db.execute("SELECT workspace_id FROM email_holds")] == [1]
