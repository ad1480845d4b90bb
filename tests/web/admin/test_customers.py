"""The Customers pages: the list with search and pages, its empty states, and one customer."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape
from types import SimpleNamespace

import pytest

from backstop import clock
from backstop.connectors.stripe import StripeUnavailable
from backstop.stripe_sync import backfill, connection
from backstop.web.filters import day_label
from backstop.workspaces.workspaces import create_workspace
from tests.builders import (
    put,
    put_customer_campaign,
    put_customer_with_plan,
    stripe_card,
    stripe_customer,
    stripe_invoice,
    stripe_price,
    stripe_product,
    stripe_subscription,
    text_of,
)

DAY = 86400


def connect(db, box, workspace, livemode: bool = False) -> None:
    key = f"rk_{'live' if livemode else 'test'}_acmeRestrictedKey123456"
    connection.save_key_connection(db, box, workspace.id, key, livemode, webhook_secret=None, polling=True)


def page_text(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, response.text
    return text_of(response.text)


def rows_of(html: str) -> list[str]:
    body = re.search(r"<tbody>(.*?)</tbody>", html, flags=re.S)
    return (
        [text_of(r) for r in re.findall(r"<tr\b[^>]*>(.*?)</tr>", body.group(1), flags=re.S)] if body else []
    )


def now_ts() -> int:
    return int(clock.now_ts())


@pytest.fixture
def zebra(db, box, olivia):
    ws, _ = create_workspace(db, box, "Zebra Labs", olivia.admin, "zebra")
    return ws


# --- empty states ---------------------------------------------------------------------------


def test_before_stripe_is_connected_it_says_what_will_appear_and_links_to_the_connection(as_olivia):
    response = as_olivia.get("/w/acme/customers")
    assert response.status_code == 200
    text = text_of(response.text)
    assert "Your Stripe customers will appear here" in text
    assert "subscriptions, invoices and card on file" in text
    assert 'href="/w/acme/settings/stripe"' in response.text
    assert "Connect Stripe in Settings → Stripe connection" in text
    assert "isn't built yet" not in text


class StripeDownAtCustomers:
    """A Stripe that lists products and prices, then stops answering."""

    config = SimpleNamespace(rate=20)

    def get(self, path, params=None):
        if path in ("/v1/products", "/v1/prices"):
            kind = path.rsplit("/", 1)[1]
            objects = [stripe_product()] if kind == "products" else [stripe_price(), stripe_price("price_b")]
            return {"object": "list", "data": objects, "has_more": False}
        raise StripeUnavailable("Stripe answered 503 three times")


def test_while_the_first_copy_runs_it_shows_its_progress(as_olivia, db, box, acme):
    connect(db, box, acme)
    row_id = backfill.start(db, acme.id)
    assert backfill.run(db, row_id, lambda _ws: StripeDownAtCustomers()) == "retrying"

    html = as_olivia.get("/w/acme/customers").text
    text = text_of(html)
    assert "Backstop is copying your Stripe account: 3 objects so far" in text
    assert "Waiting to retry: Stripe is unavailable: Stripe answered 503 three times" in text
    assert re.search(r'<progress max="100" value="28"', html)
    assert 'href="/w/acme/settings/stripe#sync"' in html
    assert "Your Stripe customers will appear here" not in text


def test_a_customer_that_arrives_during_the_copy_shows_with_the_progress_above(as_olivia, db, box, acme):
    connect(db, box, acme)
    backfill.start(db, acme.id)
    put(db, acme.id, stripe_customer("cus_ada", "ada@acme.test", "Ada"))
    text = page_text(as_olivia, "/w/acme/customers")
    assert "Backstop is copying your Stripe account" in text
    assert "Ada" in text and "ada@acme.test" in text


def test_after_the_copy_an_empty_account_says_so_and_how_to_check(as_olivia, db, box, acme):
    connect(db, box, acme)
    row_id = backfill.start(db, acme.id)
    db.execute(
        "UPDATE stripe_backfills SET stage = 'done', finished_at = ? WHERE id = ?", [clock.iso(), row_id]
    )
    text = page_text(as_olivia, "/w/acme/customers")
    assert "No customers in this Stripe account yet" in text
    assert "testmode" in text
    assert "Sync again" in text


# --- the list -------------------------------------------------------------------------------


def test_it_lists_each_customer_with_plan_status_mrr_card_and_age(as_olivia, db, acme):
    created = now_ts() - 3 * DAY
    put_customer_with_plan(db, acme.id, "cus_ada", "ada@acme.test", name="Ada Lovelace", created=created)
    put(db, acme.id, stripe_customer("cus_bob", "bob@acme.test", created=created - DAY))
    html = as_olivia.get("/w/acme/customers").text
    ada, bob = rows_of(html)
    assert ada.startswith(
        "Ada Lovelace ada@acme.test Pro Active $49.00 Visa •••• 4242 08/30 "
        + day_label(clock.now() - 3 * timedelta(days=1))
    )
    assert bob.startswith("bob@acme.test cus_bob No subscription")
    assert 'href="/w/acme/customers/cus_ada"' in html
    assert re.search(r'<td class="num">\s*\$49\.00', html), "MRR sits in a right-aligned cell"
    exact = clock.iso(clock.now() - timedelta(seconds=now_ts() - created))
    assert f'title="{exact[:10]} {exact[11:16]} UTC"' in html, "exact time on hover"
    assert "2 in all" in text_of(html)


def test_it_shows_status_pills_that_say_their_state_in_words(as_olivia, db, acme):
    put_customer_with_plan(db, acme.id, "cus_a", "a@acme.test", created=4, status="past_due")
    put_customer_with_plan(db, acme.id, "cus_b", "b@acme.test", created=3, cancel_at_period_end=True)
    put_customer_with_plan(db, acme.id, "cus_c", "c@acme.test", created=2, status="trialing")
    put_customer_with_plan(db, acme.id, "cus_d", "d@acme.test", created=1, status="canceled")
    rows = rows_of(as_olivia.get("/w/acme/customers").text)
    assert "Past due $49.00" in rows[0]
    assert "Active Cancels at period end $49.00" in rows[1]
    assert "Trialing —" in rows[2]
    assert "Canceled —" in rows[3]


def test_it_keeps_to_the_workspace_in_the_address(as_olivia, db, acme, zebra):
    put(db, acme.id, stripe_customer("cus_ada", "ada@acme.test", "Ada"))
    put(db, zebra.id, stripe_customer("cus_zed", "zed@zebra.test", "Zed"))
    acme_text = page_text(as_olivia, "/w/acme/customers")
    zebra_text = page_text(as_olivia, "/w/zebra/customers")
    assert "Ada" in acme_text and "Zed" not in acme_text
    assert "Zed" in zebra_text and "Ada" not in zebra_text


def test_someone_outside_the_workspace_gets_404(as_marco, db, acme, zebra):
    put(db, zebra.id, stripe_customer("cus_zed", "zed@zebra.test", "Zed"))
    assert as_marco.get("/w/zebra/customers").status_code == 404
    assert as_marco.get("/w/zebra/customers/cus_zed").status_code == 404


def test_signed_out_it_asks_to_sign_in(client, acme):
    response = client.get("/w/acme/customers", follow_redirects=False)
    assert response.status_code in (302, 303)
    assert response.headers["location"].startswith("/login")


def test_it_searches_by_part_of_the_email_name_or_id(as_olivia, db, acme):
    put(
        db,
        acme.id,
        stripe_customer("cus_ada", "ada@acme.test", "Ada Lovelace", created=2),
        stripe_customer("cus_bob", "bob@example.org", "Bob", created=1),
    )
    assert [r.split()[0] for r in rows_of(as_olivia.get("/w/acme/customers?q=LOVE").text)] == ["Ada"]
    assert [r.split()[0] for r in rows_of(as_olivia.get("/w/acme/customers?q=example.org").text)] == ["Bob"]
    assert [r.split()[0] for r in rows_of(as_olivia.get("/w/acme/customers?q=cus_").text)] == ["Ada", "Bob"]
    html = as_olivia.get("/w/acme/customers?q=ada").text
    assert 'value="ada"' in html, "the search box keeps what was typed"


def test_a_search_without_a_match_says_so_and_offers_the_full_list(as_olivia, db, acme):
    put(db, acme.id, stripe_customer("cus_ada", "ada@acme.test", "Ada"))
    response = as_olivia.get("/w/acme/customers", params={"q": "<b>zed</b>"})
    text = text_of(response.text)
    assert "No customer matches “<b>zed</b>”" in text
    assert "<b>zed</b>" not in response.text
    assert "&lt;b&gt;zed&lt;/b&gt;" in response.text
    assert "Show all customers" in text


def test_it_pages_through_customers_newest_first(as_olivia, db, acme):
    for n in range(30):
        put(db, acme.id, stripe_customer(f"cus_{n:02d}", f"c{n:02d}@acme.test", created=1_700_000_000 + n))
    first = as_olivia.get("/w/acme/customers").text
    first_rows = rows_of(first)
    assert len(first_rows) == 25
    assert first_rows[0].startswith("c29@acme.test")
    older = re.search(r'href="(/w/acme/customers\?cursor=[^"]+)" rel="next"', first)
    assert older, "a link to the next page"
    assert "Newest customers" not in text_of(first)

    second = as_olivia.get(unescape(older.group(1))).text
    second_rows = rows_of(second)
    assert [r.split()[0] for r in second_rows] == [f"c{n:02d}@acme.test" for n in range(4, -1, -1)]
    assert 'rel="next"' not in second
    assert "Newest customers" in text_of(second)


def test_pages_of_a_search_stay_within_the_search(as_olivia, db, acme):
    for n in range(27):
        put(db, acme.id, stripe_customer(f"cus_a{n:02d}", f"a{n:02d}@acme.test", created=100 + n))
    put(db, acme.id, stripe_customer("cus_b", "b@other.test", created=1))
    first = as_olivia.get("/w/acme/customers?q=acme.test").text
    older = re.search(r'href="(/w/acme/customers\?q=acme.test&amp;cursor=[^"]+)" rel="next"', first)
    assert older
    second = rows_of(as_olivia.get(unescape(older.group(1))).text)
    assert [r.split()[0] for r in second] == ["a01@acme.test", "a00@acme.test"]


def test_a_mangled_page_link_starts_over_at_the_newest(as_olivia, db, acme):
    put(db, acme.id, stripe_customer("cus_ada", "ada@acme.test", "Ada"))
    response = as_olivia.get("/w/acme/customers?cursor=garbage")
    assert response.status_code == 200
    assert "Ada" in text_of(response.text)


def test_it_escapes_a_customer_named_like_a_script(as_olivia, db, acme):
    put_customer_with_plan(
        db, acme.id, "cus_evil", "evil@acme.test", name="<script>alert('x')</script>", created=now_ts()
    )
    put(db, acme.id, stripe_customer("cus_tags", "t@acme.test", metadata={"<img src=x>": "<svg onload=1>"}))
    for path in ("/w/acme/customers", "/w/acme/customers/cus_evil", "/w/acme/customers/cus_tags"):
        html = as_olivia.get(path).text
        assert "<script>alert" not in html, path
        assert "<img src=x>" not in html and "<svg onload" not in html, path
    html = as_olivia.get("/w/acme/customers").text
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert "<script>alert('x')</script>" in text_of(html)


# --- the card on file -----------------------------------------------------------------------


def _customer_whose_card_runs_out(db, acme, exp):
    card = stripe_card("pm_ada", "cus_ada", brand="mastercard", last4="4444", exp=exp)
    renewal = now_ts() + 40 * DAY  # always after the first day of next month
    put(
        db,
        acme.id,
        stripe_product(),
        stripe_price(),
        stripe_customer("cus_ada", "ada@acme.test", "Ada", card=card, created=now_ts()),
        stripe_subscription("sub_ada", "cus_ada", period_end=renewal),
    )
    return renewal


def test_it_warns_when_the_card_expires_before_the_next_renewal(as_olivia, db, acme):
    now = clock.now()
    renewal = _customer_whose_card_runs_out(db, acme, (now.month, now.year))
    row = rows_of(as_olivia.get("/w/acme/customers").text)[0]
    assert f"Mastercard •••• 4444 {now.month:02d}/{now.year % 100:02d} ⚠ Expires before renewal" in row
    detail = page_text(as_olivia, "/w/acme/customers/cus_ada")
    renewal_day = clock.iso(clock.now() + timedelta(seconds=renewal - now_ts()))[:10]
    assert f"before the next renewal on {renewal_day}" in detail


def test_it_does_not_warn_about_a_card_that_outlasts_the_renewal(as_olivia, db, acme):
    _customer_whose_card_runs_out(db, acme, (12, clock.now().year + 2))
    assert "⚠" not in as_olivia.get("/w/acme/customers").text
    assert "⚠" not in as_olivia.get("/w/acme/customers/cus_ada").text


def test_it_warns_about_an_expired_card(as_olivia, db, acme):
    _customer_whose_card_runs_out(db, acme, (1, clock.now().year - 1))
    assert "⚠ Expired" in rows_of(as_olivia.get("/w/acme/customers").text)[0]
    assert "The card expired at the end of 01/" in page_text(as_olivia, "/w/acme/customers/cus_ada")


# --- one customer ---------------------------------------------------------------------------


def test_a_customer_page_shows_who_they_are_and_links_to_stripe(as_olivia, db, box, acme):
    connect(db, box, acme, livemode=False)
    put(db, acme.id, stripe_customer("cus_ada", "ada@acme.test", "Ada", metadata={"backstop_tags": "vip"}))
    html = as_olivia.get("/w/acme/customers/cus_ada").text
    text = text_of(html)
    assert "Ada ada@acme.test · cus_ada" in text
    assert 'href="https://dashboard.stripe.com/test/customers/cus_ada"' in html
    assert "Tags vip" in text
    db.execute("UPDATE stripe_connections SET livemode = 1")
    assert (
        'href="https://dashboard.stripe.com/customers/cus_ada"'
        in as_olivia.get("/w/acme/customers/cus_ada").text
    )


def test_a_customer_page_lists_subscriptions_with_plan_status_mrr_and_renewal(as_olivia, db, acme):
    put(db, acme.id, stripe_product("prod_team", "Team"))
    team = stripe_price("price_team", "prod_team", amount=120000, interval="year")
    put(
        db,
        acme.id,
        team,
        stripe_customer("cus_ada", "ada@acme.test", "Ada"),
        stripe_subscription("sub_team", "cus_ada", team, period_end=now_ts() + 10 * DAY + 600, created=2),
        stripe_subscription(
            "sub_paused",
            "cus_ada",
            team,
            pause={"behavior": "void", "resumes_at": 1_900_000_000},
            cancel_at_period_end=True,
            created=1,
        ),
    )
    html = as_olivia.get("/w/acme/customers/cus_ada").text
    rows = rows_of(html)
    assert rows[0] == "Team sub_team Active $1,200.00 per year $100.00 " + day_label(
        clock.now() + timedelta(days=10)
    )
    assert "Cancels at period end" in rows[1]
    assert "Collection paused until 2030-03-17" in rows[1]
    assert "MRR $100.00" in text_of(html)


def test_a_customer_page_lists_invoices_newest_first_with_lines_on_demand(as_olivia, db, acme):
    put(
        db,
        acme.id,
        stripe_customer("cus_ada", "ada@acme.test", "Ada"),
        stripe_invoice("in_0001", "cus_ada", "sub_ada", amount=4900, created=now_ts() - 40 * DAY),
        stripe_invoice(
            "in_0002",
            "cus_ada",
            "sub_ada",
            status="open",
            amount=6400,
            created=now_ts() - 2 * DAY,
            hosted_invoice_url="https://invoice.stripe.com/i/acct_1/test_abc",
            lines=[("Pro plan", 4900), ("Extra seat", 1500)],
        ),
        stripe_invoice("in_0003", "cus_ada", status="paid", hosted_invoice_url="javascript:alert(1)"),
    )
    html = as_olivia.get("/w/acme/customers/cus_ada").text
    invoices = html[html.index('id="invoices-title"') :]
    rows = rows_of(invoices)
    assert rows[0].startswith(
        "ACME-0002 in_0002 " + day_label(clock.now() - 2 * timedelta(days=1)) + " Open $64.00 $0.00"
    )
    assert rows[1].startswith(
        "ACME-0001 in_0001 " + day_label(clock.now() - 40 * timedelta(days=1)) + " Paid $49.00 $49.00"
    )
    assert 'href="https://invoice.stripe.com/i/acct_1/test_abc"' in html
    assert "javascript:" not in html
    assert "Extra seat" not in html, "lines wait until asked for"

    opened = as_olivia.get("/w/acme/customers/cus_ada?invoice=in_0002").text
    assert "Pro plan" in opened and "Extra seat" in opened
    assert "Hide lines" in text_of(opened)


def test_a_customer_page_says_what_will_appear_when_there_is_nothing_yet(as_olivia, db, acme):
    put(db, acme.id, stripe_customer("cus_ada", "ada@acme.test", "Ada"))
    text = page_text(as_olivia, "/w/acme/customers/cus_ada")
    assert "No subscriptions. When this customer subscribes in Stripe" in text
    assert "No invoices mirrored for this customer" in text
    assert "No card on file" in text
    assert "No recovery campaigns. One opens here when a renewal payment of this customer fails." in text


def test_a_customer_page_lists_their_recovery_campaigns(as_olivia, db, acme):
    put(db, acme.id, stripe_customer("cus_ada", "ada@acme.test", "Ada"))
    assert "No recovery campaigns" in page_text(as_olivia, "/w/acme/customers/cus_ada")
    put_customer_campaign(db, acme.id, "cus_ada", "in_failed_renewal")
    put_customer_campaign(db, acme.id, "cus_bob", "in_someone_else")
    html = as_olivia.get("/w/acme/customers/cus_ada").text
    section = html[html.index('id="campaigns-title"') :]
    assert [r.split()[0] for r in rows_of(section)] == ["in_failed_renewal"]
    assert "In flight $49.00" in rows_of(section)[0]
    campaign_id = db.execute("SELECT id FROM campaigns WHERE invoice_id = 'in_failed_renewal'").fetchone()[0]
    assert f'href="/w/acme/recovery/{campaign_id}"' in section


def test_another_workspaces_customer_is_404(as_olivia, db, acme, zebra):
    put(db, zebra.id, stripe_customer("cus_zed", "zed@zebra.test", "Zed"))
    response = as_olivia.get("/w/acme/customers/cus_zed")
    assert response.status_code == 404
    assert "Zed" not in response.text
    assert as_olivia.get("/w/acme/customers/cus_nobody").status_code == 404
    assert as_olivia.get("/w/zebra/customers/cus_zed").status_code == 200


# --- the Overview ---------------------------------------------------------------------------


def test_the_overview_shows_active_mrr_from_the_mirror(as_olivia, db, acme):
    put_customer_with_plan(db, acme.id, "cus_a", "a@acme.test")
    put_customer_with_plan(db, acme.id, "cus_b", "b@acme.test", status="past_due")
    put_customer_with_plan(db, acme.id, "cus_c", "c@acme.test", status="trialing")
    html = as_olivia.get("/w/acme/overview").text
    tile = re.search(
        r'<div class="kpi"[^>]*>(?:(?!</div>).)*Active MRR(?:(?!</div>).)*</div>', html, flags=re.S
    )
    assert tile, "the Active MRR tile"
    assert text_of(tile.group(0)).startswith("$98.00 Active MRR 2 paying subscriptions")
    assert "past_due" in unescape(tile.group(0))
