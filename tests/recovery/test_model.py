"""The campaign's statuses are defined once; the database, the API and the pages follow them."""

from __future__ import annotations

import re

import pytest

from backstop.recovery import campaigns
from backstop.recovery.model import (
    STATUSES,
    TRANSITIONS,
    Campaign,
    CampaignStatus,
    InvalidTransition,
    check_transition,
    sql_check,
    total_attempts,
)


def test_the_database_check_allows_exactly_the_model_statuses(db):
    sql = db.execute("SELECT sql FROM sqlite_master WHERE name = 'campaigns'").fetchone()[0]
    check = re.search(r"status TEXT NOT NULL DEFAULT 'in_flight'\s+(CHECK \([^)]*\)\))", sql).group(1)
    assert check == sql_check()
    assert set(re.findall(r"'([a-z_]+)'", check)) == set(STATUSES)


def test_the_api_schema_lists_exactly_the_model_statuses(client):
    schema = client.get("/api/v1/openapi.json").json()
    campaign = schema["components"]["schemas"]["CampaignOut"]["properties"]["status"]
    assert sorted(campaign["enum"]) == sorted(STATUSES)


def test_a_campaign_closes_once_and_only_along_the_allowed_transitions():
    assert check_transition("in_flight", "recovered") is CampaignStatus.RECOVERED
    for closed in (CampaignStatus.RECOVERED, CampaignStatus.LOST, CampaignStatus.ABANDONED):
        assert TRANSITIONS[closed] == frozenset()
        with pytest.raises(InvalidTransition):
            check_transition(closed, "in_flight")
    with pytest.raises(InvalidTransition):
        check_transition("in_flight", "in_flight")
    with pytest.raises(ValueError):
        check_transition("in_flight", "paid")


def test_close_refuses_a_status_the_model_does_not_know(db, acme):
    campaign, _ = campaigns.open_campaign(
        db,
        acme.id,
        campaigns.FailedInvoice(
            invoice_id="in_1", customer_id="cus_1", subscription_id="sub_1", amount_due=900, currency="usd",
            attempt_count=1, decline_code="insufficient_funds", advice_code=None, customer_email=None,
            customer_name=None,
        ),
    )  # fmt: skip
    with pytest.raises(ValueError):
        campaigns.close(db, campaign["id"], "paid", "not a status")
    assert campaigns.close(db, campaign["id"], "lost", "by test")
    assert not campaigns.close(db, campaign["id"], "recovered", "too late")
    typed = Campaign.from_row(campaigns.by_invoice(db, acme.id, "in_1"))
    assert typed.status is CampaignStatus.LOST and not typed.is_open and typed.close_reason == "by test"


def test_stripe_counts_backstops_retries_so_attempts_are_not_added_twice():
    assert total_attempts(3, 2) == 3  # Stripe's attempt_count 3 already includes Backstop's 2
    assert total_attempts(1, 2) == 2  # Stripe's count not caught up yet
    assert total_attempts(None, None) == 0
