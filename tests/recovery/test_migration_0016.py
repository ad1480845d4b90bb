"""0016: campaigns that opened before the dunning holdout existed are in neither arm, and the
holdout starts off for every workspace."""

import sqlite3

import pytest

from backstop import clock
from backstop.db import opened
from backstop.db.migrations import migrations
from backstop.recovery import holdout


def test_existing_campaigns_are_in_no_arm_and_the_holdout_starts_off(tmp_path):
    path = tmp_path / "backstop.db"
    with opened(path) as db:
        migrations.apply(db, stop_before="0016_add_dunning_holdout")
        now = clock.iso()
        db.execute(
            "INSERT INTO workspaces (slug, name, embed_secret_enc, created_at) VALUES ('acme', 'Acme', 'enc', ?)",
            [now],
        )
        db.execute(
            "INSERT INTO recovery_settings (workspace_id, policy, updated_at) VALUES (1, '{}', ?)", [now]
        )
        db.execute(
            "INSERT INTO campaigns (workspace_id, invoice_id, amount_due, currency, decline_class, "
            "first_failed_at, opened_at) VALUES (1, 'in_old', 4900, 'usd', 'soft', ?, ?)",
            [now, now],
        )
        migrations.apply(db)
        assert db.execute("SELECT dunning_holdout FROM campaigns").fetchone()[0] is None
        assert holdout.get_percent(db, 1) is None
        with pytest.raises(sqlite3.IntegrityError):  # the database refuses a share outside 1-50
            db.execute("UPDATE recovery_settings SET holdout_percent = 60")
