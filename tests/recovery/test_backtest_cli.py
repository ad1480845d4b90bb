"""``backstop recovery backtest`` run for real in a subprocess."""

from __future__ import annotations

import json

from backstop import clock
from backstop.db import write_transaction
from backstop.workspaces.workspaces import get_workspace_by_slug
from tests.builders import BACKTEST_DRAFT, assert_fails_with, put_backtest_history


def _seed(cli, count: int = 50) -> None:
    with cli.db() as db, write_transaction(db):
        put_backtest_history(db, get_workspace_by_slug(db, "acme")["id"], clock.now(), count)


def test_json_compares_the_saved_policy_with_a_draft_file(with_acme, tmp_path):
    _seed(with_acme)
    draft = tmp_path / "draft.json"
    draft.write_text(json.dumps(BACKTEST_DRAFT))
    result = with_acme("recovery", "backtest", "--workspace", "acme", "--policy", str(draft), "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["workspace"] == "acme" and data["period"]["days"] == 90
    assert data["invoices"] == 50
    current, drafted = data["policies"]["current"], data["policies"]["draft"]
    # 5 invoices of each of the ten patterns (see test_backtest.py for each one's working)
    assert current["recovered_by_retry"] == {"invoices": 10, "amounts": {"usd": 10 * 4900}}
    assert drafted["recovered_by_retry"] == {"invoices": 15, "amounts": {"usd": 15 * 4900}}
    assert (
        current["recovered_with_new_card"]["invoices"] == drafted["recovered_with_new_card"]["invoices"] == 10
    )
    assert (current["blocked_by_cap"], drafted["blocked_by_cap"]) == (0, 5)
    assert (current["retries_run"], drafted["retries_run"]) == (75, 75)
    assert drafted["policy"]["max_attempts"] == 4
    assert current["days_to_recovery"] == {"median": 8.0, "p90": 10.0}
    assert any("might have failed" in limit for limit in data["limits"])


def test_the_table_puts_the_policies_side_by_side_with_the_limits(with_acme, tmp_path):
    _seed(with_acme)
    draft = tmp_path / "draft.json"
    draft.write_text(json.dumps(BACKTEST_DRAFT))
    result = with_acme("recovery", "backtest", "--workspace", "acme", "--days", "120", "--policy", str(draft))
    assert result.returncode == 0, result.stderr
    assert "50 failed invoices in the last 120 days" in result.stdout
    assert "Saved policy" in result.stdout and "Draft (draft.json)" in result.stdout
    assert "Recovered by a retry on the same card" in result.stdout
    assert "What a backtest can't know:" in result.stdout


def test_no_failed_invoice_is_an_answer_not_an_error(with_acme):
    result = with_acme("recovery", "backtest", "--workspace", "acme", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["invoices"] == 0
    assert data["policies"]["current"]["recovery_rate"] is None


def test_a_bad_policy_file_is_refused_field_by_field(with_acme, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"max_attempts": 40, "rules": {"soft": {"gaps_days": "3,5"}}}))
    result = with_acme("recovery", "backtest", "--workspace", "acme", "--policy", str(bad))
    assert_fails_with(
        result, "bad.json can't be used", "rules.soft.gaps_days: rules.soft.gaps_days must be a list"
    )
    broken = tmp_path / "broken.json"
    broken.write_text('{"max_attempts": 6,,}')
    assert_fails_with(
        with_acme("recovery", "backtest", "--workspace", "acme", "--policy", str(broken)),
        "isn't valid JSON at line 1, column 20",
    )
    assert_fails_with(
        with_acme("recovery", "backtest", "--workspace", "acme", "--policy", str(tmp_path / "none.json")),
        "Can't read the policy file",
    )


def test_an_unknown_workspace_or_period_is_refused(with_acme):
    assert_fails_with(with_acme("recovery", "backtest", "--workspace", "nope"), "nope")
    result = with_acme("recovery", "backtest", "--workspace", "acme", "--days", "0")
    assert result.returncode != 0 and "--days" in result.stderr
