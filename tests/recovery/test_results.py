"""Recovery → Results: the holdout's rates, lift and significance for seeded campaigns whose
numbers are worked out by hand, and the 12-month chart and tables of recovered revenue by
decline class."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from backstop.db import write_transaction
from backstop.recovery import campaigns, holdout, results
from backstop.recovery.campaigns import FailedInvoice
from backstop.workspaces.workspaces import create_workspace
from tests.builders import text_of
from tests.conftest import login

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)  # a Wednesday; this week starts Monday 30 November


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def seed(db, ws_id, invoice, *, code="insufficient_funds", amount=4900, currency="usd", status, closed=NOW):
    """A campaign opened five days before ``closed`` and closed then with ``status``."""
    with time_machine.travel(closed - timedelta(days=5), tick=False), write_transaction(db):
        row, _ = campaigns.open_campaign(
            db, ws_id, FailedInvoice(invoice, "cus_1", "sub_1", amount, currency, 1, code, None, None, None)
        )
    if status != "in_flight":
        with time_machine.travel(closed, tick=False), write_transaction(db):
            campaigns.close(db, row["id"], status, "seeded")
    return row


def section(html: str, element_id: str) -> str:
    start = html.index(f'id="{element_id}"')
    return html[start : html.index("</table>", start)]


def table_rows(html: str, element_id: str) -> list[str]:
    part = section(html, element_id).split("<tfoot>")[0]
    return [text_of(r) for r in re.split(r"</tr>", part) if "<td" in r]


# -- the holdout --------------------------------------------------------------------------------


def seed_arm(db, ws_id, prefix: str, *, held: int, closed: int, recovered: int) -> None:
    for n in range(closed):
        row = seed(db, ws_id, f"{prefix}_{n}", status="recovered" if n < recovered else "lost")
        db.execute("UPDATE campaigns SET dunning_holdout = ? WHERE id = ?", [held, row["id"]])


def test_it_shows_rates_lift_and_how_many_more_campaigns_each_arm_needs(client, olivia, acme, db, frozen):
    with write_transaction(db):
        holdout.save_percent(db, acme.id, 20)
    seed_arm(db, acme.id, "em", held=0, closed=200, recovered=120)  # 60 %
    seed_arm(db, acme.id, "ho", held=1, closed=50, recovered=20)  # 40 %
    seed(db, acme.id, "open_one", status="in_flight")  # in flight: counted apart, not in the rates
    db.execute("UPDATE campaigns SET dunning_holdout = 1 WHERE invoice_id = 'open_one'")
    login(client, olivia)
    page = client.get("/w/acme/recovery/results")
    assert page.status_code == 200
    text = text_of(page.text)
    assert "The holdout is on: 20% of new campaigns get retries but no dunning emails." in text
    assert "With dunning emails 60.0% 120 recovered of 200 closed campaigns" in text
    assert "Held out (retries only) 40.0% 20 recovered of 50 closed campaigns · 1 in flight" in text
    # Pooled z = 0.2 / sqrt(0.56 * 0.44 * (1/200 + 1/50)) = 2.548, p = erfc(2.548 / sqrt 2) = 0.011;
    # n per arm = (1.96 + 0.84)² * (0.24 + 0.24) / 0.2² = 94.08 → 95.
    assert "Lift from the emails +20.0 points p = 0.011" in text
    assert (
        "Not significant yet. To tell a difference this size apart from chance (95% confidence, 80% power) "
        "each arm needs 95 closed campaigns: with dunning emails needs 0 more, held out (retries only) 45 more."
    ) in text
    assert "None" not in text

    seed_arm(db, acme.id, "ho2", held=1, closed=50, recovered=20)  # now 100 held out, 40 %
    text = text_of(client.get("/w/acme/recovery/results").text)
    # z = 0.2 / sqrt(0.5333 * 0.4667 * (1/200 + 1/100)) = 3.273, p = 0.00106
    assert "Lift from the emails +20.0 points p = 0.001" in text
    assert (
        "The difference is significant (p < 0.05 with both arms past the 95 closed campaigns planned): "
        "campaigns with the dunning emails recover more."
    ) in text


def test_equal_rates_past_the_plan_are_called_no_difference(client, olivia, acme, db, frozen):
    seed_arm(db, acme.id, "em", held=0, closed=10, recovered=5)
    seed_arm(db, acme.id, "ho", held=1, closed=4, recovered=2)
    login(client, olivia)
    text = text_of(client.get("/w/acme/recovery/results").text)
    assert "The holdout is off now; these are the campaigns opened while it was on." in text
    assert "Lift from the emails 0.0 points p = 1.000" in text
    assert "No difference so far: both arms recover at the same rate." in text


def test_without_a_holdout_or_campaigns_it_says_what_will_appear(client, olivia, acme, db, frozen):
    login(client, olivia)
    html = client.get("/w/acme/recovery/results").text
    text = text_of(html)
    assert "The dunning holdout is off. Turn it on under Settings → Email" in text
    assert "No campaign has closed in the last 12 months yet." in text
    assert "None" not in text and "<svg" not in html.split('id="over-time"')[1]
    with write_transaction(db):
        holdout.save_percent(db, acme.id, 10)
    seed(db, acme.id, "before", status="recovered")  # opened before the holdout was on: in no arm
    db.execute("UPDATE campaigns SET dunning_holdout = NULL")
    text = text_of(client.get("/w/acme/recovery/results").text)
    assert "The dunning holdout is on: 10% of new campaigns get retries but no dunning emails." in text
    assert "None" not in text


def test_only_one_arm_closed_says_both_need_closed_campaigns(client, olivia, acme, db, frozen):
    seed_arm(db, acme.id, "em", held=0, closed=3, recovered=1)
    login(client, olivia)
    text = text_of(client.get("/w/acme/recovery/results").text)
    assert "Held out (retries only) — 0 recovered of 0 closed campaigns" in text
    assert "Lift from the emails — Needs closed campaigns in both arms." in text
    assert "Not enough data yet. Both arms need closed campaigns" in text
    assert "None" not in text


# -- recovered revenue over time ------------------------------------------------------------------


def seed_year(db, ws_id) -> None:
    seed(db, ws_id, "a", amount=4900, status="recovered", closed=datetime(2026, 11, 30, 9, tzinfo=UTC))
    seed(db, ws_id, "b", amount=2500, status="lost", closed=datetime(2026, 12, 1, 9, tzinfo=UTC))
    hard = seed(
        db, ws_id, "c", code="expired_card", amount=9900, status="recovered",
        closed=datetime(2026, 11, 24, 9, tzinfo=UTC),
    )  # fmt: skip
    # A new card reclassifies a campaign as soft; it still counts as the hard decline it opened as.
    db.execute("UPDATE campaigns SET decline_class = 'soft' WHERE id = ?", [hard["id"]])
    seed(
        db, ws_id, "d", code="stolen_card", amount=3000, currency="eur", status="recovered",
        closed=datetime(2026, 6, 10, 9, tzinfo=UTC),
    )  # fmt: skip
    seed(
        db, ws_id, "g", code="expired_card", amount=1500, currency="gbp", status="abandoned",
        closed=datetime(2026, 6, 11, 9, tzinfo=UTC),
    )  # fmt: skip
    seed(db, ws_id, "old", amount=1000, status="recovered", closed=datetime(2025, 11, 1, 9, tzinfo=UTC))
    seed(db, ws_id, "open", amount=7000, status="in_flight")


def test_the_weekly_numbers_add_up_to_the_seeded_recoveries(db, acme, frozen):
    seed_year(db, acme.id)
    year = results.weekly(db, acme.id)
    assert len(year.weeks) == 52 and year.weeks[-1].start.isoformat() == "2026-11-30"
    assert year.weeks[0].start.isoformat() == "2025-12-08"
    total: dict[str, int] = {}
    for week in year.weeks:
        for cur, amount in week.all.amounts.items():
            total[cur] = total.get(cur, 0) + amount
        assert week.all.amounts == {
            cur: sum(week.by_class[k].amounts.get(cur, 0) for k in results.CLASSES)
            for cur in week.all.amounts
        }
    assert total == year.all.amounts == {"usd": 4900 + 9900, "eur": 3000}  # not the 2025 one
    assert (year.all.recovered, year.all.closed) == (3, 5)
    assert [(c.recovered, c.closed) for c in year.by_class.values()] == [(1, 2), (1, 2), (1, 1)]
    assert (year.currency, year.others) == ("usd", ["eur"])


def test_the_page_draws_the_main_currency_and_tables_every_number(client, olivia, acme, db, box, frozen):
    seed_year(db, acme.id)
    other, _ = create_workspace(db, box, "Other Co", olivia.admin, "other")
    seed(db, other.id, "elsewhere", amount=500_000, status="recovered")  # never on Acme's page
    login(client, olivia)
    html = client.get("/w/acme/recovery/results").text
    assert "None" not in text_of(html)
    assert table_rows(html, "class-totals") == [
        "Soft declines $49.00 1 2 50.0%",
        "Hard declines $99.00 1 2 50.0%",
        "Never-retry declines €30.00 1 1 100.0%",
    ]
    foot = section(html, "class-totals").split("<tfoot>")[1]
    assert text_of(foot) == "All $148.00 · €30.00 3 5 60.0%"
    weeks = table_rows(html, "weekly-table")
    assert len(weeks) == 52
    assert weeks[0] == "30 Nov 2026 $49.00 · 1 of 2 — — $49.00 50.0% · 1 of 2"
    assert weeks[1] == "23 Nov 2026 — $99.00 · 1 of 1 — $99.00 100.0% · 1 of 1"
    june = next(w for w in weeks if w.startswith("8 Jun 2026"))
    assert june == "8 Jun 2026 — 0 of 1 €30.00 · 1 of 1 €30.00 50.0% · 1 of 2"
    assert sum(1 for w in weeks if w.endswith(" —")) == 49  # weeks that closed nothing have no rate
    svg = html.split('class="results-chart"')[1].split("</svg>")[0]
    assert re.findall(r'<rect class="bar-(\w+)"', svg) == ["hard", "soft"]  # USD only, oldest first
    assert svg.count('class="rate-point"') == 3
    text = text_of(html)
    assert "the chart shows USD, and the tables list EUR too (€30.00 recovered)" in text


def test_a_year_with_nothing_recovered_draws_the_rate_alone(client, olivia, acme, db, frozen):
    seed(db, acme.id, "lost_one", status="lost")
    login(client, olivia)
    html = client.get("/w/acme/recovery/results").text
    svg = html.split('class="results-chart"')[1].split("</svg>")[0]
    assert "<rect" not in svg and svg.count('class="rate-point"') == 1
    assert table_rows(html, "weekly-table")[0] == "30 Nov 2026 0 of 1 — — — 0.0% · 0 of 1"
    assert "None" not in text_of(html)
