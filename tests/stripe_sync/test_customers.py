"""Reading mirrored customers: search, newest-first pages, tags, one customer in full, Active MRR.

The mirror is filled the way Stripe fills it: objects shaped like Stripe's own examples, written
with ``mirror.apply_object``. The builders live in ``tests/builders.py``.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine

from backstop.reporting.stats import DEFINITIONS, workspace_stats
from backstop.stripe_sync import customers
from backstop.stripe_sync.mirror import apply_object, mark_deleted
from backstop.workspaces.workspaces import create_workspace
from tests.builders import (
    VERSION,
    put,
    put_customer_campaign,
    stripe_card,
    stripe_customer,
    stripe_invoice,
    stripe_price,
    stripe_product,
    stripe_subscription,
)

pytestmark = pytest.mark.usefixtures("fast_password_hashing")


def ids(page: customers.Page) -> list[str]:
    return [c.id for c in page.customers]


@pytest.fixture
def zebra(db, box, olivia):
    ws, _ = create_workspace(db, box, "Zebra Labs", olivia.admin, "zebra")
    return ws


# --- lists and search ----------------------------------------------------------------------


def test_it_lists_customers_newest_first_and_only_the_workspaces_own(db, acme, zebra):
    put(db, acme.id, stripe_customer("cus_old", "old@acme.test", created=1_600_000_000))
    put(db, acme.id, stripe_customer("cus_new", "new@acme.test", created=1_750_000_000))
    put(db, acme.id, stripe_customer("cus_mid", "mid@acme.test", created=1_700_000_000))
    put(db, zebra.id, stripe_customer("cus_zed", "zed@zebra.test", created=1_760_000_000))

    assert ids(customers.list_customers(db, acme.id)) == ["cus_new", "cus_mid", "cus_old"]
    assert ids(customers.list_customers(db, zebra.id)) == ["cus_zed"]
    assert customers.get_customer(db, zebra.id, "cus_new") is None
    assert customers.get_customer(db, acme.id, "cus_new").email == "new@acme.test"


def test_the_same_stripe_id_in_two_workspaces_stays_two_customers(db, acme, zebra):
    put(db, acme.id, stripe_customer("cus_same", "ada@acme.test", "Ada"))
    put(db, zebra.id, stripe_customer("cus_same", "bob@zebra.test", "Bob"))
    assert customers.get_customer(db, acme.id, "cus_same").name == "Ada"
    assert customers.get_customer(db, zebra.id, "cus_same").name == "Bob"
    assert ids(customers.list_customers(db, acme.id, query="bob")) == []


def test_it_walks_every_customer_across_pages_without_repeats(db, acme):
    # Several customers share a creation second: the id breaks the tie, so none is skipped.
    for n in range(23):
        put(db, acme.id, stripe_customer(f"cus_{n:03d}", f"c{n}@acme.test", created=1_700_000_000 + n // 4))
    seen, after, pages = [], None, 0
    while True:
        page = customers.list_customers(db, acme.id, limit=5, after=after)
        seen += ids(page)
        pages += 1
        if page.next_key is None:
            break
        after = page.next_key
    assert pages == 5
    assert len(seen) == len(set(seen)) == 23
    created = [customers.get_customer(db, acme.id, c).created for c in seen]
    assert created == sorted(created, reverse=True)


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("ada@", ["cus_ada"]),
        ("ACME.TEST", ["cus_bob", "cus_ada"]),
        ("lovelace", ["cus_ada"]),
        ("élodie", ["cus_elo"]),
        ("ÉLO", ["cus_elo"]),
        ("cus_bo", ["cus_bob"]),
        ("  bob  ", ["cus_bob"]),
        ("%", []),
        ("_", ["cus_elo", "cus_bob", "cus_ada"]),
        ("nobody", []),
    ],
)
def test_it_finds_customers_by_part_of_email_name_or_id_ignoring_case(db, acme, query, found):
    put(
        db,
        acme.id,
        stripe_customer("cus_ada", "ada@acme.test", "Ada Lovelace", created=1_600_000_000),
        stripe_customer("cus_bob", "bob@acme.test", "Bob", created=1_650_000_000),
        stripe_customer("cus_elo", "e@example.org", "Élodie Martin", created=1_700_000_000),
    )
    assert ids(customers.list_customers(db, acme.id, query=query)) == found


def test_it_matches_an_email_exactly_ignoring_case(db, acme):
    put(
        db,
        acme.id,
        stripe_customer("cus_ada", "Ada@Acme.test"),
        stripe_customer("cus_adam", "adam@acme.test"),
    )
    assert ids(customers.list_customers(db, acme.id, email="ada@acme.TEST")) == ["cus_ada"]
    assert ids(customers.list_customers(db, acme.id, email="ada@acme")) == []


def test_it_leaves_customers_deleted_in_stripe_out_of_lists(db, acme):
    put(
        db,
        acme.id,
        stripe_customer("cus_gone", "gone@acme.test"),
        stripe_customer("cus_here", "here@acme.test"),
    )
    mark_deleted(db, acme.id, "customer", "cus_gone", VERSION + 60)
    assert ids(customers.list_customers(db, acme.id)) == ["cus_here"]
    assert customers.get_customer(db, acme.id, "cus_gone").deleted is True


# --- tags -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("metadata", "tag", "expected"),
    [
        ({"backstop_tags": "vip, beta"}, "vip", True),
        ({"backstop_tags": "vip, beta"}, "Beta", True),
        ({"backstop_tags": "vip,beta"}, "bet", False),
        ({"backstop_tags": "early adopter"}, "early adopter", True),
        ({"vip": "true"}, "vip", True),
        ({"vip": "yes"}, "VIP", True),
        ({"vip": "2024-01-05"}, "vip", True),
        ({"vip": "false"}, "vip", False),
        ({"vip": "0"}, "vip", False),
        ({"vip": ""}, "vip", False),
        ({"vip": " No "}, "vip", False),
        ({"plan": "vip"}, "vip", False),
        ({}, "vip", False),
        ({"backstop_tags": "vip"}, "  ", False),
    ],
)
def test_the_tag_rule(metadata, tag, expected):
    assert customers.has_tag(metadata, tag) is expected


def test_it_filters_customers_by_tag(db, acme, zebra):
    put(
        db,
        acme.id,
        stripe_customer("cus_listed", "a@acme.test", metadata={"backstop_tags": "beta,VIP"}, created=3),
        stripe_customer("cus_flag", "b@acme.test", metadata={"vip": "true"}, created=2),
        stripe_customer("cus_off", "c@acme.test", metadata={"vip": "false"}, created=1),
        stripe_customer("cus_none", "d@acme.test"),
    )
    put(db, zebra.id, stripe_customer("cus_other", "z@zebra.test", metadata={"vip": "1"}))
    assert ids(customers.list_customers(db, acme.id, tag="vip")) == ["cus_listed", "cus_flag"]
    assert ids(customers.list_customers(db, acme.id, tag="beta")) == ["cus_listed"]
    assert ids(customers.list_customers(db, acme.id, tag="vip", query="b@")) == ["cus_flag"]
    assert customers.get_customer(db, acme.id, "cus_listed").tags == ["beta", "VIP"]


# --- one customer in full -------------------------------------------------------------------


def test_it_reads_a_customers_plan_card_and_mrr(db, acme):
    put(db, acme.id, stripe_product("prod_team", "Team"))
    annual = stripe_price("price_team_yearly", "prod_team", amount=120000, interval="year")
    card = stripe_card("pm_ada", "cus_ada", brand="mastercard", last4="4444", exp=(3, 2031))
    put(
        db,
        acme.id,
        stripe_customer("cus_ada", "ada@acme.test", "Ada", card=card),
        stripe_subscription("sub_team", "cus_ada", annual, quantity=2, created=1_710_000_000),
        stripe_subscription("sub_old", "cus_ada", annual, status="canceled", created=1_720_000_000),
    )
    ada = customers.get_customer(db, acme.id, "cus_ada")
    assert ada.card.brand == "mastercard" and ada.card.last4 == "4444" and ada.card.expiry == "03/31"
    assert [s.id for s in ada.subscriptions] == ["sub_team", "sub_old"]
    team = ada.primary
    assert team.plan_name == "Team"
    assert team.status == "active"
    assert team.mrr == 20000  # 2 seats at $1,200 a year = $200 a month
    assert team.current_period_end == 1_790_000_000
    assert ada.mrr == {"usd": 20000}


def test_it_falls_back_to_the_subscriptions_card_when_the_customer_has_no_default(db, acme):
    card = stripe_card("pm_sub", "cus_ada", last4="1881")
    put(
        db,
        acme.id,
        stripe_product(),
        stripe_customer("cus_ada", "ada@acme.test"),
        stripe_subscription("sub_ada", "cus_ada", default_payment_method=card),
    )
    assert customers.get_customer(db, acme.id, "cus_ada").card.last4 == "1881"


def test_it_names_the_plan_by_the_price_nickname_when_the_product_is_unknown(db, acme):
    price = stripe_price("price_x", "prod_missing", nickname="Legacy monthly")
    put(
        db,
        acme.id,
        price,
        stripe_customer("cus_ada", "ada@acme.test"),
        stripe_subscription("sub_x", "cus_ada", price),
    )
    assert customers.get_customer(db, acme.id, "cus_ada").primary.plan_name == "Legacy monthly"


def test_it_reads_pause_and_cancel_at_period_end(db, acme):
    put(
        db,
        acme.id,
        stripe_product(),
        stripe_customer("cus_ada", "ada@acme.test"),
        stripe_subscription("sub_a", "cus_ada", cancel_at_period_end=True, created=2),
        stripe_subscription(
            "sub_b", "cus_ada", pause={"behavior": "void", "resumes_at": 1_795_000_000}, created=1
        ),
    )
    subs = {s.id: s for s in customers.get_customer(db, acme.id, "cus_ada").subscriptions}
    assert subs["sub_a"].cancel_at_period_end is True
    assert subs["sub_a"].counts_toward_mrr is True
    assert subs["sub_b"].pause_collection == {"behavior": "void", "resumes_at": 1_795_000_000}
    assert subs["sub_b"].counts_toward_mrr is False


def test_it_lists_invoices_newest_first_with_lines_on_demand(db, acme, zebra):
    put(
        db,
        acme.id,
        stripe_customer("cus_ada", "ada@acme.test"),
        stripe_customer("cus_bob", "bob@acme.test"),
        stripe_invoice("in_0001", "cus_ada", "sub_ada", created=1_700_000_000),
        stripe_invoice(
            "in_0002",
            "cus_ada",
            "sub_ada",
            status="open",
            created=1_702_600_000,
            hosted_invoice_url="https://invoice.stripe.com/i/acct_1/test_abc",
            lines=[("Pro", 4900), ("Extra seat", 1500)],
        ),
        stripe_invoice("in_0003", "cus_bob", created=1_703_000_000),
    )
    found = customers.invoices(db, acme.id, "cus_ada")
    assert [i.id for i in found] == ["in_0002", "in_0001"]
    assert found[0].status == "open" and found[0].amount_remaining == 4900
    assert found[0].hosted_invoice_url == "https://invoice.stripe.com/i/acct_1/test_abc"
    lines = customers.invoice_lines(db, acme.id, "cus_ada", "in_0002")
    assert [(line.description, line.amount) for line in lines] == [("Pro", 4900), ("Extra seat", 1500)]
    # Another customer's invoice, or another workspace's, gives nothing.
    assert customers.invoice_lines(db, acme.id, "cus_ada", "in_0003") is None
    assert customers.invoice_lines(db, zebra.id, "cus_ada", "in_0002") is None


def test_it_lists_the_customers_own_campaigns_newest_first(db, acme, zebra):
    put(db, acme.id, stripe_customer("cus_ada", "ada@acme.test"))
    assert customers.recent_campaigns(db, acme.id, "cus_ada") == []
    put_customer_campaign(db, acme.id, "cus_ada", "in_1", status="lost")
    put_customer_campaign(db, acme.id, "cus_ada", "in_2")
    put_customer_campaign(db, acme.id, "cus_bob", "in_3")
    put_customer_campaign(db, zebra.id, "cus_ada", "in_4")
    found = customers.recent_campaigns(db, acme.id, "cus_ada")
    assert [(c["invoice_id"], c["status"]) for c in found] == [("in_2", "in_flight"), ("in_1", "lost")]
    assert found[0]["amount_due"] == 4900 and found[0]["currency"] == "usd"


# --- the card on file against the next renewal ----------------------------------------------

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
NEXT_MONTH = int(datetime(2026, 12, 2, tzinfo=UTC).timestamp())


def _customer_with(db, acme, exp: tuple[int, int] | None, **sub) -> customers.Customer:
    card = stripe_card("pm_ada", "cus_ada", exp=exp) if exp else None
    put(
        db,
        acme.id,
        stripe_product(),
        stripe_customer("cus_ada", "ada@acme.test", card=card),
        stripe_subscription("sub_ada", "cus_ada", period_end=NEXT_MONTH, **sub),
    )
    return customers.get_customer(db, acme.id, "cus_ada")


@pytest.mark.parametrize(
    ("exp", "sub", "warning"),
    [
        ((11, 2026), {}, "expires at the end of 11/26, before the next renewal on 2026-12-02"),
        ((10, 2026), {}, "expired at the end of 10/26"),
        ((12, 2026), {}, None),
        ((11, 2026), {"cancel_at_period_end": True}, None),
        ((11, 2026), {"status": "canceled"}, None),
        ((11, 2026), {"status": "trialing"}, "before the next renewal"),
        (None, {}, "No card on file"),
        (None, {"status": "canceled"}, None),
    ],
)
def test_it_warns_when_the_card_will_not_last_until_the_next_renewal(db, acme, exp, sub, warning):
    with time_machine.travel(NOW, tick=False):
        ada = _customer_with(db, acme, exp, **sub)
        found = ada.card_warning()
    if warning is None:
        assert found is None
    else:
        assert warning in found.text


# --- Active MRR -----------------------------------------------------------------------------


def test_active_mrr_counts_active_and_past_due_subscriptions_per_currency(db, acme, zebra):
    put(db, acme.id, stripe_product())
    usd = stripe_price()
    eur = stripe_price("price_eur", amount=1000, currency="eur")
    yearly = stripe_price("price_yearly", amount=24000, interval="year")
    put(
        db,
        acme.id,
        stripe_subscription("sub_active", "cus_a", usd),
        stripe_subscription("sub_past_due", "cus_b", usd, status="past_due"),
        stripe_subscription("sub_yearly", "cus_c", yearly, cancel_at_period_end=True),
        stripe_subscription("sub_eur", "cus_d", eur, quantity=3),
        stripe_subscription("sub_trial", "cus_e", usd, status="trialing"),
        stripe_subscription("sub_canceled", "cus_f", usd, status="canceled"),
        stripe_subscription("sub_unpaid", "cus_g", usd, status="unpaid"),
        stripe_subscription("sub_paused", "cus_h", usd, pause={"behavior": "void", "resumes_at": None}),
    )
    put(db, zebra.id, stripe_subscription("sub_zebra", "cus_z", usd))

    stats = workspace_stats(db, acme.id)
    assert stats["active_mrr"] == {"amounts": {"eur": 3000, "usd": 4900 + 4900 + 2000}, "subscriptions": 4}
    assert workspace_stats(db, zebra.id)["active_mrr"] == {"amounts": {"usd": 4900}, "subscriptions": 1}
    assert "past_due" in DEFINITIONS["active_mrr"] and "Trials" in DEFINITIONS["active_mrr"]


def test_active_mrr_follows_a_subscription_that_is_canceled_later(db, acme):
    put(db, acme.id, stripe_product(), stripe_subscription("sub_a", "cus_a"))
    assert workspace_stats(db, acme.id)["active_mrr"]["amounts"] == {"usd": 4900}
    apply_object(db, acme.id, stripe_subscription("sub_a", "cus_a", status="canceled"), VERSION + 60)
    assert workspace_stats(db, acme.id)["active_mrr"] == {"amounts": {}, "subscriptions": 0}
