"""Mirrored prices as other domains read them: pickable targets and a month of the dearest plan."""

from __future__ import annotations

from backstop.stripe_sync.prices import max_monthly_amount, recurring_prices
from tests.builders import put_price


def test_it_lists_active_recurring_prices_of_this_workspace_only(db, acme, box, marco):
    from backstop.workspaces.workspaces import create_workspace

    other, _ = create_workspace(db, box, "Globex", marco.admin, "globex")
    put_price(db, acme.id, "price_month", 4900, nickname="Pro monthly")
    put_price(db, acme.id, "price_year", 49000, interval="year")
    put_price(db, acme.id, "price_old", 9900, active=0)
    put_price(db, other.id, "price_theirs", 100000)
    prices = recurring_prices(db, acme.id)
    assert [p.id for p in prices] == ["price_month", "price_year"]
    assert prices[0].label == "Pro monthly — $49.00 / month"
    assert prices[1].label == "Acme Pro — $490.00 / year"
    assert prices[1].monthly_amount == 4083
    assert max_monthly_amount(db, acme.id, "usd") == 4900
    assert max_monthly_amount(db, acme.id, "eur") is None
