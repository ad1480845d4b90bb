"""Every kind of email Backstop sends: its label, tone, subject and the sample data its preview uses.

``transactional`` mail is about money the customer owes or paid (dunning, receipts): it goes even
to unsubscribed customers. ``marketing`` mail (win-back, reminders that sell) respects every
opt-out. Neither ever goes to an address that complained or hard-bounced.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

TRANSACTIONAL = "transactional"
MARKETING = "marketing"


@dataclass(frozen=True)
class Kind:
    key: str
    label: str
    category: str
    template: str  # ui/templates/emails/<template>.html and .txt
    subject: str  # a Jinja expression rendered with the same context
    description: str
    sample: dict[str, Any] = field(default_factory=dict)
    to_customer: bool = True  # email to an admin (the diagnostic) is never held by a pause


_DUNNING_SAMPLE = {
    "amount_due": 4900,
    "currency": "usd",
    "plan_name": "Pro (monthly)",
    "card_brand": "Visa",
    "card_last4": "4242",
    "update_card_url": "https://billing.example.com/update-card/sample",
    "decline_message": "Your bank declined the charge.",
}

# A workspace's own subject line (Email settings) wins over the default.
_DUNNING_SUBJECTS = {
    step: "{% if subject_line is defined and subject_line %}{{ subject_line }}{% else %}"
    + default
    + "{% endif %}"
    for step, default in {
        1: "Your payment for {{ company }} didn't go through",
        2: "Reminder: please update your card for {{ company }}",
        3: "Your {{ company }} subscription is at risk",
        4: "Last notice: your {{ company }} subscription will end",
    }.items()
}

_DUNNING_WHEN = {1: "on the day of the failure", 2: "3 days later", 3: "7 days later", 4: "14 days later"}

KINDS: dict[str, Kind] = {
    **{
        f"dunning_{step}": Kind(
            key=f"dunning_{step}",
            label=f"Dunning — step {step} of 4",
            category=TRANSACTIONAL,
            template="dunning",
            subject=_DUNNING_SUBJECTS[step],
            description=f"Asks the customer to update their card, {_DUNNING_WHEN[step]}.",
            sample={**_DUNNING_SAMPLE, "step": step},
        )
        for step in (1, 2, 3, 4)
    },
    "card_expiry": Kind(
        key="card_expiry",
        label="Card-expiry warning",
        category=TRANSACTIONAL,
        template="card_expiry",
        subject="Your card for {{ company }} expires soon",
        description="Before the card on file of an active subscription expires.",
        sample={
            "card_brand": "Mastercard",
            "card_last4": "4444",
            "exp_month": 7,
            "exp_year": 2027,
            "plan_name": "Pro (monthly)",
            "update_card_url": "https://billing.example.com/update-card/sample",
        },
    ),
    "trial_ending": Kind(
        key="trial_ending",
        label="Trial-ending reminder",
        category=MARKETING,
        template="trial_ending",
        subject="Your {{ company }} trial ends {{ trial_end_date }}",
        description="A few days before a trial converts to a paid subscription.",
        sample={
            "plan_name": "Pro (monthly)",
            "trial_end_date": "on 14 March",
            "amount": 4900,
            "currency": "usd",
            "manage_url": "https://billing.example.com/portal/sample",
        },
    ),
    "winback": Kind(
        key="winback",
        label="Win-back",
        category=MARKETING,
        template="winback",
        subject="Come back to {{ company }}?",
        description="A one-click restart link, two weeks after a subscription ends.",
        sample={
            "plan_name": "Pro (monthly)",
            "amount": 4900,
            "currency": "usd",
            "restart_url": "https://billing.example.com/win-back/sample",
            "coupon_text": "20% off your first 3 months",
        },
    ),
    "payment_recovered": Kind(
        key="payment_recovered",
        label="Payment-recovered receipt",
        category=TRANSACTIONAL,
        template="payment_recovered",
        subject="Thanks — your {{ company }} payment went through",
        description="Confirms the overdue invoice was paid and nothing more is needed.",
        sample={
            "amount": 4900,
            "currency": "usd",
            "plan_name": "Pro (monthly)",
            "paid_on": "12 March",
            "receipt_url": "https://billing.example.com/receipt/sample",
        },
    ),
    "webhook_disabled": Kind(
        key="webhook_disabled",
        label="Webhook endpoint disabled",
        category=TRANSACTIONAL,
        template="webhook_disabled",
        subject="Backstop stopped sending webhooks to {{ endpoint_url }}",
        description="Tells the workspace's owners that an endpoint failed for 5 days and was disabled.",
        sample={
            "endpoint_url": "https://example.com/webhooks/backstop",
            "last_error": "The endpoint answered HTTP 503.",
            "settings_url": "https://backstop.example.com/w/acme/settings/webhooks",
        },
    ),
    "weekly_summary": Kind(
        key="weekly_summary",
        label="Weekly summary",
        category=MARKETING,
        template="weekly_summary",
        subject="Your week with Backstop: {{ workspace_name }}, {{ week_label }}",
        description="Monday's summary for the workspace's owners: recovered, lost, saved, stalled campaigns.",
        sample={
            "week_label": "23–29 November 2026",
            "workspace_name": "Acme Analytics",
            "recovered_line": "$490.00 from 10 failed payments",
            "lost_line": "$98.00 from 2 campaigns that ran out of retries",
            "saved_line": "$147.00 of monthly revenue from 3 saves",
            "stalled_line": "1 campaign has been in flight for 14 days or more.",
            "stalled": [
                {
                    "who": "Ada Lovelace",
                    "amount": "$49.00",
                    "opened": "9 November",
                    "url": "https://backstop.example.com/w/acme/recovery/42",
                }
            ],
            "stalled_more": 0,
            "quiet": False,
            "overview_url": "https://backstop.example.com/w/acme/overview",
            "recovery_url": "https://backstop.example.com/w/acme/recovery",
            "cancel_url": "https://backstop.example.com/w/acme/cancel-flows/analytics",
            "settings_url": "https://backstop.example.com/w/acme/settings/notifications",
        },
        to_customer=False,
    ),
    "diagnostic": Kind(
        key="diagnostic",
        label="Send diagnostic",
        category=TRANSACTIONAL,
        template="diagnostic",
        subject="Backstop send diagnostic for {{ company }}",
        description="A test message to an admin, to check that mail arrives.",
        sample={"transport": "ses", "sender": "billing@mail.example.com"},
        to_customer=False,
    ),
}


def get_kind(key: str) -> Kind:
    try:
        return KINDS[key]
    except KeyError:
        raise ValueError(f"Unknown email kind {key!r}; known kinds: {', '.join(KINDS)}.")


def previewable() -> list[Kind]:
    return [k for k in KINDS.values() if k.key not in ("diagnostic", "webhook_disabled", "weekly_summary")]
