"""Settings → Retry policy → "Preview on your last 90 days"."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from litestar.testing import TestClient

from backstop import clock
from backstop.db import write_transaction
from backstop.recovery import campaigns
from backstop.recovery.policy import RetryPolicy, policy_from_file_text
from backstop.workspaces import workspaces as ws_domain
from backstop.workspaces.workspaces import workspace_for
from tests.builders import field_error, put_backtest_history, text_of
from tests.conftest import csrf_from, login

POLICY = "/w/acme/settings/retry-policy"
PREVIEW = "/w/acme/settings/retry-policy/preview"
# BACKTEST_DRAFT as the form posts it: soft declines on days 2, 6, 20, no hard retry, cap 4.
DRAFT_FORM = {
    "soft_retries": "3",
    "soft_gaps_days": "2, 4, 14",
    "soft_terminal_action": "cancel",
    "hard_retries": "0",
    "hard_gaps_days": "",
    "hard_terminal_action": "cancel",
    "never_terminal_action": "cancel",
    "max_attempts": "4",
    "window_days": "30",
    "retry_on_new_card": "1",
    "final_grace_days": "7",
}


@pytest.fixture
def client(stripe_settings, db) -> Iterator[TestClient]:
    from backstop.web.app import create_app

    with TestClient(app=create_app(stripe_settings, run_jobs=False), base_url="http://127.0.0.1") as c:
        yield c


@pytest.fixture
def history(db, acme):
    with write_transaction(db):
        return put_backtest_history(db, acme.id, clock.now(), 50)


def _preview(client, data: dict, url: str = PREVIEW):
    page = client.get(POLICY)
    return client.post(url, data={"_csrf_token": csrf_from(page.text), **data}, follow_redirects=False)


def test_the_page_offers_the_preview_before_anything_is_saved(client, olivia, acme):
    login(client, olivia)
    text = text_of(client.get(POLICY).text)
    assert "Preview on your last 90 days" in text
    assert "under the saved policy and under your draft, side by side" in text


def test_a_draft_is_replayed_beside_the_saved_policy_and_nothing_is_saved(client, olivia, db, acme, history):
    login(client, olivia)
    response = _preview(client, DRAFT_FORM)
    assert response.status_code == 200, response.text
    text = text_of(response.text)
    assert "50 renewals failed between" in text
    # 5 invoices of each of the ten patterns; the working is in tests/recovery/test_backtest.py
    assert (
        "What actually happened: 20 paid on the same card, 10 paid with a new card, 15 never paid, 5 still open."
        in text
    )
    assert "Recovered by a retry on the same card 10 ($490.00) 15 ($735.00)" in text
    assert "Recovered after a new card 10 ($490.00) 10 ($490.00)" in text
    assert "Retries stopped by the attempt cap 0 5" in text
    assert "Invoices stopped by network rules (never-retry declines) 15 15" in text
    assert "Days to recovery, median 8 days 10 days" in text
    assert "Recovery rate (of decided invoices) 44.4% of 45 55.6% of 45" in text
    assert "What a backtest can't know" in text and "might have failed or worked" in text
    assert 'scope="row">Retries that would run</th>' in response.text
    # the form keeps the draft, and the saved policy is unchanged
    assert 'name="max_attempts" value="4"' in response.text.replace(' type="number"', "")
    assert campaigns.get_policy(db, acme.id) == RetryPolicy()
    assert "None" not in text


def test_a_draft_past_a_rule_shows_the_field_error_and_no_preview(client, olivia, acme, history):
    login(client, olivia)
    response = _preview(client, {**DRAFT_FORM, "soft_gaps_days": "2, 4, 40"})
    assert response.status_code == 400
    assert "after the 30-day window" in field_error(response.text, "soft_gaps_days")
    assert "renewals failed between" not in response.text


def test_a_workspace_without_failures_says_there_is_nothing_to_replay(client, olivia, acme):
    login(client, olivia)
    text = text_of(_preview(client, DRAFT_FORM).text)
    assert "there is nothing to replay yet" in text
    assert "None" not in text


def test_a_member_can_preview_but_not_save(client, olivia, marco, db, acme, history):
    ws_domain.add_member(db, workspace_for(db, olivia.admin, "acme"), marco.admin.email, "member", None)
    login(client, marco)
    page = client.get(POLICY)
    assert "Save retry policy" not in page.text
    assert "you can still preview a draft" in text_of(page.text)
    assert _preview(client, DRAFT_FORM).status_code == 200


def test_another_workspace_is_a_404_and_a_missing_token_a_403(client, olivia, marco, db, box, acme, history):
    ws_domain.create_workspace(db, box, "Marco's shop", marco.admin, "marcos")
    login(client, olivia)
    assert _preview(client, DRAFT_FORM, "/w/marcos/settings/retry-policy/preview").status_code == 404
    assert client.get("/w/marcos/settings/retry-policy.json").status_code == 404
    assert client.post(PREVIEW, data=DRAFT_FORM, follow_redirects=False).status_code == 403


def test_the_saved_policy_downloads_as_a_policy_file(client, olivia, db, acme):
    saved = RetryPolicy().with_rule("soft", retries=2, gaps_days=(4, 6))
    with write_transaction(db):
        campaigns.save_policy(db, acme.id, saved)
    login(client, olivia)
    response = client.get("/w/acme/settings/retry-policy.json")
    assert response.status_code == 200
    assert 'filename="retry-policy-acme.json"' in response.headers["content-disposition"]
    assert policy_from_file_text(RetryPolicy(), response.text) == saved
