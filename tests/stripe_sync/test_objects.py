"""Flattening Stripe's own example objects (tests/fixtures/stripe_examples.json, the pinned API version)."""

import copy
import json
from pathlib import Path

import pytest

from backstop.stripe_sync import objects

EXAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "stripe_examples.json"


@pytest.fixture(scope="module")
def examples() -> dict:
    return json.loads(EXAMPLES.read_text())["resources"]


def test_it_reads_the_subscription_of_an_invoice_from_its_parent(examples):
    invoice = copy.deepcopy(examples["invoice"])
    invoice["subscription"] = None
    invoice["parent"] = {"type": "subscription_details", "subscription_details": {"subscription": "sub_123"}}
    assert objects.invoice_row(invoice)["subscription_id"] == "sub_123"


def test_it_falls_back_to_the_older_top_level_subscription_field(examples):
    invoice = copy.deepcopy(examples["invoice"])
    invoice["parent"] = None
    invoice["subscription"] = "sub_old"
    assert objects.invoice_row(invoice)["subscription_id"] == "sub_old"


def test_it_keeps_card_metadata_only(examples):
    row = objects.payment_method_row(examples["payment_method"])
    assert row["card_brand"] == "visa" and row["card_last4"] == "4242"
    assert row["card_exp_month"] == 8 and row["card_exp_year"] == 2030
    assert "fingerprint" not in json.dumps(row)


def test_it_takes_the_period_from_the_subscription_item(examples):
    sub = copy.deepcopy(examples["subscription"])
    item = sub["items"]["data"][0]
    item["current_period_start"], item["current_period_end"] = 1_700_000_000, 1_702_592_000
    row = objects.subscription_row(sub)
    assert (row["current_period_start"], row["current_period_end"]) == (1_700_000_000, 1_702_592_000)
    assert row["price_id"] == item["price"]["id"]


@pytest.mark.parametrize(
    ("amount", "quantity", "interval", "count", "mrr"),
    [
        (2000, 1, "month", 1, 2000),
        (24000, 1, "year", 1, 2000),
        (2000, 3, "month", 1, 6000),
        (6000, 1, "month", 3, 2000),
        (1000, 1, "week", 1, 4333),
        (None, 1, "month", 1, 0),
    ],
)
def test_it_expresses_any_price_as_monthly_revenue(amount, quantity, interval, count, mrr):
    assert objects.monthly_amount(amount, quantity, interval, count) == mrr


def test_it_reads_a_customers_default_card_whether_expanded_or_not(examples):
    customer = copy.deepcopy(examples["customer"])
    customer["invoice_settings"]["default_payment_method"] = "pm_1"
    assert objects.customer_row(customer)["default_payment_method"] == "pm_1"
    customer["invoice_settings"]["default_payment_method"] = {"id": "pm_2", "object": "payment_method"}
    assert objects.customer_row(customer)["default_payment_method"] == "pm_2"


def test_it_reads_line_prices_from_pricing_details(examples):
    line = copy.deepcopy(examples["invoice"]["lines"]["data"][0])
    line["pricing"] = {"type": "price_details", "price_details": {"price": "price_9", "product": "prod_9"}}
    rows = objects.invoice_line_rows("in_1", [line])
    assert rows[0]["price_id"] == "price_9" and rows[0]["amount"] == line["amount"]


def test_it_mirrors_the_price_inside_each_subscription_item(db, acme, examples):
    from backstop.stripe_sync import mirror

    sub = copy.deepcopy(examples["subscription"])
    price = sub["items"]["data"][0]["price"]
    mirror.apply_object(db, acme.id, sub, 100)
    row = db.execute(
        "SELECT unit_amount, currency FROM stripe_prices WHERE workspace_id = ? AND id = ?",
        [acme.id, price["id"]],
    ).fetchone()
    assert tuple(row) == (price["unit_amount"], price["currency"])
