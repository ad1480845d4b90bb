"""`backstop stripe replay` runs the handlers a live delivery runs, in a process of its own."""

import os
import subprocess
import sys
from pathlib import Path

from backstop.db import all_rows
from backstop.recovery import winback

VENV_BIN = Path(sys.executable).parent
SCHEDULE = ("reason", "plan_name", "amount", "currency", "customer_email", "due_at", "status")


def test_replaying_a_subscription_deletion_schedules_the_winback_a_live_delivery_does(
    db, loop, fake_stripe, stripe_settings, connected
):
    price = fake_stripe.create_price(4900, "usd", "month", product_name="Pro plan")
    cus = fake_stripe.create_customer(email="sam@example.com", name="Sam")
    fake_stripe.make_card(cus["id"], default=True)
    sub = fake_stripe.create_subscription(cus["id"], price["id"])
    fake_stripe.client().v1.subscriptions.cancel(sub["id"])
    loop.settle()
    [live] = winback.for_workspace(db, connected.id)
    assert live["reason"] == "canceled"

    db.execute("DELETE FROM winbacks")
    clean = {k: v for k, v in os.environ.items() if not k.startswith("BACKSTOP_")}
    done = subprocess.run(
        [str(VENV_BIN / "backstop"), "stripe", "replay", "--workspace", connected.slug],
        env={
            **clean,
            "BACKSTOP_DATA_DIR": str(stripe_settings.data_dir),
            "BACKSTOP_SECRET_KEY": stripe_settings.secret_key,
            "BACKSTOP_STRIPE_API_BASE": fake_stripe.url,
            "COLUMNS": "400",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr

    [replayed] = winback.for_workspace(db, connected.id)
    assert {k: replayed[k] for k in SCHEDULE} == {k: live[k] for k in SCHEDULE}
    outcomes = all_rows(db, "SELECT outcome FROM stripe_events WHERE type = 'customer.subscription.deleted'")
    assert outcomes == [{"outcome": "processed"}]
