"""The twelve starting flows, with copy a founder can ship as is.

House rules for the words: say plainly what the offer is and what happens next; "Cancel anyway"
is always one tap away (the runtime shows it on every step, it is not part of a template); no
guilt, no countdowns, no fake testimonials. Stories are left for the founder to fill with their
own customers' words: those templates land as drafts, as do the ones whose call offer needs a
booking link.

Two templates switch the customer to another price (Dev Tool / API Service downgrades, Annual
Upsell moves to yearly). They pick the target from the workspace's mirrored Stripe prices when the
choice is clear — the cheapest monthly price when there are at least two, the only yearly price
(or the yearly price of the product with a monthly one) — and otherwise land as drafts whose
validation message says which price to choose.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from backstop.cancel_flows import document, flows
from backstop.cancel_flows.document import Flow
from backstop.stripe_sync.prices import PriceInfo, recurring_prices
from backstop.workspaces.errors import ValidationError

J = dict[str, Any]


@dataclass(frozen=True)
class Template:
    name: str
    summary: str
    needs: str  # what the founder fills in before it can go live ("" when nothing)
    build: Callable[[list[PriceInfo]], J]


# --- pieces ----------------------------------------------------------------------------------


def _survey(title: str, reasons: list[tuple[str, str, str]], *, body: str = "", free_text: str = "") -> J:
    return {
        "id": "survey",
        "type": "survey",
        "title": title,
        "body": body,
        "free_text": {"enabled": bool(free_text), "label": free_text},
        "reasons": [{"code": c, "label": label, "next": n} for c, label, n in reasons],
    }


def _offer(node_id: str, on_decline: str, *offers: J, weights: tuple[int, ...] = ()) -> J:
    weights = weights or tuple(100 // len(offers) for _ in offers)
    return {
        "id": node_id,
        "type": "offer",
        "title": "",
        "body": "",
        "variants": [
            {"id": chr(ord("a") + i), "weight": w, "offer": o}
            for i, (o, w) in enumerate(zip(offers, weights, strict=True))
        ],
        "on_decline": on_decline,
    }


def _confirm(title: str = "We're sorry to see you go", body: str = "") -> J:
    body = body or (
        "Your subscription stays active until the end of the period you've paid for, and your "
        "account will be here if you ever want to come back. Thank you for giving us a try."
    )
    return {"id": "confirm", "type": "confirm", "title": title, "body": body}


def _discount(percent: int, months: int, headline: str, body: str) -> J:
    return {
        "kind": "discount",
        "percent_off": percent,
        "duration_months": months,
        "headline": headline,
        "body": body,
        "accept_label": f"Stay at {percent}% off",
    }


def _pause(months: int, headline: str, body: str) -> J:
    span = "1 month" if months == 1 else f"{months} months"
    return {
        "kind": "pause",
        "months": months,
        "headline": headline,
        "body": body,
        "accept_label": f"Pause for {span}",
    }


def _doc(name: str, nodes: list[J], start: str = "survey") -> J:
    return {
        "format": document.FORMAT,
        "name": name,
        "settings": {"cancel_at": "period_end", "proration": "create_prorations"},
        "start": start,
        "nodes": nodes,
    }


PAUSE_BODY = (
    "No charges while you're paused, and everything stays exactly as you left it. Billing picks "
    "up again automatically when the pause ends."
)


# --- price choices ---------------------------------------------------------------------------


def _downgrade_target(prices: list[PriceInfo]) -> PriceInfo | None:
    monthly = [p for p in prices if p.interval == "month" and p.interval_count == 1]
    if len(monthly) < 2:
        return None
    return min(monthly, key=lambda p: (p.unit_amount, p.id))


def _annual_target(prices: list[PriceInfo]) -> tuple[PriceInfo | None, int | None]:
    yearly = [p for p in prices if p.interval == "year" and p.interval_count == 1]
    if len(yearly) != 1:
        with_monthly = [
            y
            for y in yearly
            if any(m.interval == "month" and m.product_name == y.product_name for m in prices)
        ]
        if len(with_monthly) != 1:
            return None, None
        yearly = with_monthly
    target = yearly[0]
    monthly = [
        m
        for m in prices
        if m.interval == "month"
        and m.interval_count == 1
        and m.product_name == target.product_name
        and m.currency == target.currency
    ]
    saving = None
    if monthly:
        full = max(m.unit_amount for m in monthly) * 12
        pct = round(100 * (full - target.unit_amount) / full) if full else 0
        saving = pct if 1 <= pct <= 99 else None
    return target, saving


# --- the twelve ------------------------------------------------------------------------------


def saas_standard(prices: list[PriceInfo]) -> J:
    return _doc(
        "SaaS Standard",
        [
            _survey(
                "Before you go — what's the main reason?",
                [
                    ("too_expensive", "It's too expensive", "offer_discount"),
                    ("not_using", "I'm not using it enough", "offer_pause"),
                    ("missing_features", "It's missing something I need", "confirm"),
                    ("switching", "I'm switching to another tool", "confirm"),
                    ("bugs", "Something wasn't working well", "confirm"),
                    ("other", "Something else", "confirm"),
                ],
                body="Your answer goes straight to the people who build the product.",
                free_text="Anything we could have done better? (optional)",
            ),
            _offer(
                "offer_discount",
                "offer_pause",
                _discount(
                    25,
                    3,
                    "Stay for 25% less",
                    "Keep everything you have today at 25% off for your next 3 months. After that "
                    "your usual price applies; you can still cancel any time.",
                ),
            ),
            _offer(
                "offer_pause",
                "confirm",
                _pause(2, "Need a break? Pause instead", PAUSE_BODY),
            ),
            _confirm(),
        ],
    )


def pause_instead(prices: list[PriceInfo]) -> J:
    return _doc(
        "Pause Instead",
        [
            _survey(
                "What's making you want to stop?",
                [
                    ("not_using", "I'm not using it right now", "offer_pause"),
                    ("too_expensive", "Money's tight at the moment", "offer_pause"),
                    ("other", "Something else", "offer_pause"),
                    ("switching", "I've moved to something else", "confirm"),
                ],
                free_text="Want to tell us more? (optional)",
            ),
            _offer(
                "offer_pause",
                "confirm",
                _pause(1, "Take a month off instead", PAUSE_BODY),
                _pause(3, "Take up to three months off instead", PAUSE_BODY),
                weights=(50, 50),
            ),
            _confirm(),
        ],
    )


def annual_upsell(prices: list[PriceInfo]) -> J:
    target, saving = _annual_target(prices)
    upsell: J = {
        "kind": "annual_upsell",
        "headline": "Pay yearly and spend less",
        "body": (
            "Switch to the yearly plan and pay less per month than you do now. You're charged for "
            "the year today, minus a credit for the unused part of this month,, and you keep everything you have."
        ),
        "accept_label": "Switch to yearly",
    }
    if target:
        upsell["price_id"] = target.id
    if saving:
        upsell["percent_off"] = saving
        upsell["headline"] = f"Pay yearly and save {saving}%"
    return _doc(
        "Annual Upsell",
        [
            _survey(
                "Before you go — what's the main reason?",
                [
                    ("too_expensive", "It costs more than I'd like", "offer_annual"),
                    ("not_using", "I'm not using it enough", "offer_pause"),
                    ("switching", "I'm switching to another tool", "confirm"),
                    ("other", "Something else", "confirm"),
                ],
                free_text="Anything we could have done better? (optional)",
            ),
            _offer(
                "offer_annual",
                "offer_discount",
                upsell,
            ),
            _offer(
                "offer_discount",
                "confirm",
                _discount(
                    20,
                    2,
                    "Or stay monthly at 20% off",
                    "Prefer to keep paying monthly? Your next 2 months are 20% off, then your "
                    "usual price applies.",
                ),
            ),
            _offer("offer_pause", "confirm", _pause(2, "Pause instead of leaving", PAUSE_BODY)),
            _confirm(),
        ],
    )


def dev_tool(prices: list[PriceInfo]) -> J:
    target = _downgrade_target(prices)
    downgrade: J = {
        "kind": "downgrade",
        "headline": "Move to a smaller plan",
        "body": (
            "Keep your projects, keys and integrations on a plan that fits how much you use it "
            "now. You can move back up whenever you need more."
        ),
        "accept_label": "Switch to the smaller plan",
    }
    if target:
        downgrade["price_id"] = target.id
        downgrade["headline"] = f"Move to {target.nickname or target.product_name or 'a smaller plan'}"
    return _doc(
        "Dev Tool / API Service",
        [
            _survey(
                "What's the main reason you're leaving?",
                [
                    ("too_expensive", "It costs more than the value I get", "offer_downgrade"),
                    ("not_using", "My project is on hold", "offer_pause"),
                    ("missing_features", "It's missing an API or integration I need", "confirm"),
                    ("bugs", "Reliability or bugs", "confirm"),
                    ("switching", "I'm moving to another service", "confirm"),
                    ("too_complex", "It was too hard to set up", "confirm"),
                    ("other", "Something else", "confirm"),
                ],
                free_text="What would have made it worth keeping? (optional)",
            ),
            _offer(
                "offer_downgrade",
                "offer_discount",
                downgrade,
            ),
            _offer(
                "offer_discount",
                "confirm",
                _discount(
                    30,
                    3,
                    "Keep your current plan at 30% off",
                    "Your next 3 months at 30% off, with nothing to migrate. After that your usual "
                    "price applies.",
                ),
            ),
            _offer(
                "offer_pause",
                "confirm",
                _pause(
                    2,
                    "Pause while your project is on hold",
                    "No charges while paused; your account and settings stay as they are. Billing "
                    "resumes automatically at the end of the pause.",
                ),
            ),
            _confirm(),
        ],
    )


def agency(prices: list[PriceInfo]) -> J:
    return _doc(
        "Agency / Pro Service",
        [
            _survey(
                "Before you go, what's changed?",
                [
                    ("too_expensive", "The budget isn't there right now", "offer_call"),
                    ("not_using", "We don't have enough work for it", "offer_call"),
                    ("customer_service", "The service didn't meet expectations", "offer_call"),
                    ("switching", "We're moving to another provider", "confirm"),
                    ("other", "Something else", "confirm"),
                ],
                free_text="What should we know? (optional)",
            ),
            _offer(
                "offer_call",
                "offer_pause",
                {
                    "kind": "call",
                    "booking_url": "",
                    "headline": "Can we talk it through?",
                    "body": (
                        "Book 15 minutes with us. We'll listen, and if a smaller scope or a "
                        "different arrangement works better for you, we'll set it up. No hard sell."
                    ),
                    "accept_label": "Book a 15-minute call",
                },
            ),
            _offer(
                "offer_pause",
                "confirm",
                _pause(1, "Or pause for a month", PAUSE_BODY),
            ),
            _confirm(
                body=(
                    "Your subscription stays active until the end of the period you've paid for. "
                    "Thank you for working with us — our door stays open."
                )
            ),
        ],
    )


def newsletter(prices: list[PriceInfo]) -> J:
    return _doc(
        "Newsletter / Content",
        [
            _survey(
                "Mind telling us why you're unsubscribing?",
                [
                    ("too_expensive", "It's more than I want to spend", "offer_gift"),
                    ("not_using", "I don't have time to read it", "offer_pause"),
                    ("missing_features", "It's not the content I hoped for", "confirm"),
                    ("other", "Something else", "confirm"),
                ],
                free_text="What would you like to read more of? (optional)",
            ),
            _offer(
                "offer_gift",
                "offer_pause",
                {
                    "kind": "gift",
                    "months": 1,
                    "headline": "Have next month on us",
                    "body": (
                        "Keep reading free for a month while you decide. After that your usual "
                        "price applies, and you can still cancel any time."
                    ),
                    "accept_label": "Take the free month",
                },
            ),
            _offer(
                "offer_pause",
                "confirm",
                _pause(
                    1,
                    "Catch up first: pause for a month",
                    "No charges for a month and nothing new piling up. Your subscription picks up "
                    "again automatically afterwards.",
                ),
            ),
            _confirm(
                body="You'll keep access until the end of the period you've paid for. Thanks for reading."
            ),
        ],
    )


def fitness(prices: list[PriceInfo]) -> J:
    return _doc(
        "Fitness / Wellness",
        [
            _survey(
                "What's getting in the way?",
                [
                    ("not_using", "I haven't had time lately", "stories"),
                    ("too_expensive", "It's more than I can spend right now", "stories"),
                    ("injury", "Injury or health reasons", "offer_pause"),
                    ("switching", "I've found another program", "confirm"),
                    ("other", "Something else", "confirm"),
                ],
                free_text="Anything you'd like us to know? (optional)",
            ),
            {
                "id": "stories",
                "type": "stories",
                "title": "You're not the only one who's been here",
                "body": "A few words from members who took a break instead of stopping.",
                "stories": [{"quote": "", "author": "", "role": ""}],
                "next": "offer_pause",
            },
            _offer(
                "offer_pause",
                "confirm",
                _pause(
                    1,
                    "Pause your membership instead",
                    "Take a month off with no charges; your plan and progress stay as they are. "
                    "Billing starts again automatically when the pause ends.",
                ),
                _pause(
                    2,
                    "Pause your membership instead",
                    "Take two months off with no charges; your plan and progress stay as they are. "
                    "Billing starts again automatically when the pause ends.",
                ),
                weights=(50, 50),
            ),
            _confirm(
                body="Your membership stays active until the end of the period you've paid for. Look after yourself."
            ),
        ],
    )


def b2b(prices: list[PriceInfo]) -> J:
    return _doc(
        "B2B with Account Teams",
        [
            _survey(
                "What's behind the decision?",
                [
                    ("too_expensive", "Budget cuts or pricing", "offer_call"),
                    ("not_using", "Low adoption across the team", "offer_call"),
                    ("missing_features", "Missing features we need", "offer_call"),
                    ("switching", "Consolidating on another vendor", "offer_call"),
                    ("customer_service", "Support didn't meet our needs", "offer_call"),
                    ("other", "Something else", "confirm"),
                ],
                free_text="Anything your account team should know? (optional)",
            ),
            _offer(
                "offer_call",
                "offer_discount",
                {
                    "kind": "call",
                    "booking_url": "",
                    "headline": "Talk to your account team first",
                    "body": (
                        "Book a call with the people who look after your account. We'll review "
                        "your usage and contract together and look for a plan that fits."
                    ),
                    "accept_label": "Book a call",
                },
            ),
            _offer(
                "offer_discount",
                "confirm",
                _discount(
                    15,
                    6,
                    "15% off for the next 6 months",
                    "Keep every seat and integration at 15% off while you sort out budgets. Your "
                    "usual price applies after that.",
                ),
            ),
            _confirm(
                body=(
                    "Your team keeps access until the end of the current billing period. Your data "
                    "stays available for export until then."
                )
            ),
        ],
    )


def hobby(prices: list[PriceInfo]) -> J:
    return _doc(
        "Hobby / Consumer App",
        [
            _survey(
                "Why are you leaving?",
                [
                    ("too_expensive", "It costs too much", "offer_discount"),
                    ("not_using", "I don't use it much anymore", "offer_pause"),
                    ("bugs", "It didn't work the way I hoped", "confirm"),
                    ("other", "Something else", "confirm"),
                ],
                free_text="Tell us more (optional)",
            ),
            _offer(
                "offer_discount",
                "offer_pause",
                _discount(
                    50,
                    2,
                    "Half price for 2 months",
                    "Stay on for half the price for your next 2 months. Then it's back to the usual "
                    "price, and you can cancel any time.",
                ),
            ),
            _offer("offer_pause", "confirm", _pause(1, "Just need a break?", PAUSE_BODY)),
            _confirm(),
        ],
    )


def education(prices: list[PriceInfo]) -> J:
    return _doc(
        "Education / Course Platform",
        [
            _survey(
                "How did it go?",
                [
                    ("finished", "I finished what I came to learn", "confirm"),
                    ("not_using", "I don't have time to study right now", "offer_pause"),
                    ("too_expensive", "It's more than I can spend", "offer_discount"),
                    ("missing_features", "The courses I need aren't here", "confirm"),
                    ("other", "Something else", "confirm"),
                ],
                free_text="What would you like to learn next? (optional)",
            ),
            _offer(
                "offer_pause",
                "confirm",
                _pause(
                    2,
                    "Pause and keep your progress",
                    "No charges for 2 months. Your progress, notes and certificates stay saved, "
                    "and billing resumes automatically when the pause ends.",
                ),
            ),
            _offer(
                "offer_discount",
                "offer_pause",
                _discount(
                    30,
                    3,
                    "Keep learning at 30% off",
                    "Your next 3 months at 30% off, with every course still open to you. After "
                    "that your usual price applies.",
                ),
            ),
            _confirm(
                body=(
                    "You keep access until the end of the period you've paid for, and your "
                    "progress stays saved if you come back. Good luck with what's next!"
                )
            ),
        ],
    )


def productivity(prices: list[PriceInfo]) -> J:
    return _doc(
        "Productivity / Personal",
        [
            _survey(
                "What's the main reason?",
                [
                    ("too_expensive", "It's too expensive for me", "offer_discount"),
                    ("not_using", "I've fallen out of the habit", "offer_pause"),
                    ("too_complex", "It's more than I need", "confirm"),
                    ("switching", "I'm using something else", "confirm"),
                    ("other", "Something else", "confirm"),
                ],
                free_text="Anything we could improve? (optional)",
            ),
            _offer(
                "offer_discount",
                "offer_pause",
                _discount(
                    20,
                    3,
                    "20% off your next 3 months",
                    "Keep your lists, notes and routines, for less. After 3 months the usual price "
                    "applies, and you can cancel any time.",
                ),
            ),
            _offer(
                "offer_pause",
                "confirm",
                _pause(1, "Pause for a month", PAUSE_BODY),
            ),
            _confirm(),
        ],
    )


def blank(prices: list[PriceInfo]) -> J:
    return _doc(
        "Blank",
        [
            _survey(
                "Before you go — what's the main reason?",
                [
                    ("too_expensive", "It's too expensive", "confirm"),
                    ("not_using", "I'm not using it enough", "confirm"),
                    ("missing_features", "It's missing something I need", "confirm"),
                    ("switching", "I'm switching to another tool", "confirm"),
                    ("other", "Something else", "confirm"),
                ],
                free_text="Anything we could have done better? (optional)",
            ),
            _confirm(),
        ],
    )


TEMPLATES: dict[str, Template] = {
    t.name: t
    for t in [
        Template("SaaS Standard", "Survey, then 25% off for 3 months or a 2-month pause.", "", saas_standard),
        Template(
            "Pause Instead",
            "Offers a pause to almost everyone: 1 vs 3 months, A/B tested.",
            "",
            pause_instead,
        ),
        Template(
            "Annual Upsell",
            "Price-sensitive customers see the yearly plan, then 20% off monthly.",
            "the yearly price, when Backstop can't tell which one it is",
            annual_upsell,
        ),
        Template(
            "Dev Tool / API Service",
            "Downgrade to a smaller plan, then 30% off; pause for projects on hold.",
            "the smaller plan's price, when you have fewer than two monthly prices",
            dev_tool,
        ),
        Template(
            "Agency / Pro Service",
            "A call with you first, then a 1-month pause.",
            "your booking link",
            agency,
        ),
        Template("Newsletter / Content", "A free month, then a pause to catch up.", "", newsletter),
        Template(
            "Fitness / Wellness",
            "Members' stories, then a 1 or 2-month pause.",
            "your members' stories",
            fitness,
        ),
        Template(
            "B2B with Account Teams",
            "A call with the account team, then 15% off for 6 months.",
            "your booking link",
            b2b,
        ),
        Template("Hobby / Consumer App", "Half price for 2 months, then a 1-month break.", "", hobby),
        Template(
            "Education / Course Platform",
            "Pause and keep progress; 30% off if price is the issue.",
            "",
            education,
        ),
        Template("Productivity / Personal", "20% off for 3 months, then a 1-month pause.", "", productivity),
        Template("Blank (survey + confirm only)", "Just the reasons survey and a kind goodbye.", "", blank),
    ]
}
NAMES = list(TEMPLATES)


def find(name: str) -> Template:
    """The template by its name (case and spacing forgiven); ValidationError names the choices."""
    wanted = " ".join(name.split()).casefold()
    for t in TEMPLATES.values():
        if t.name.casefold() == wanted or t.name.split(" (")[0].casefold() == wanted:
            return t
    raise ValidationError(f"There is no template called “{name}”; choose one of: {', '.join(NAMES)}.")


def build(name: str, prices: list[PriceInfo] | None = None) -> Flow:
    return document.parse(find(name).build(prices or []))


@dataclass(frozen=True)
class Used:
    flow: flows.FlowRecord
    publish: flows.PublishResult

    @property
    def status(self) -> str:
        return "published" if self.publish.status == "published" else "draft"

    @property
    def version(self) -> int | None:
        return self.publish.version.version if self.publish.version else None


def use_template(db: Database, workspace_id: int, name: str, *, admin_id: int | None = None) -> Used:
    """Create a flow from a template and publish v1 at once when it is complete.

    A template that still needs something (a booking link, stories, a price) stays a draft and the
    result carries the validator's problems; one whose offers exceed the approval threshold waits
    for an owner.
    """
    template = find(name)
    flow = document.parse(template.build(recurring_prices(db, workspace_id)))
    record = flows.create_flow(db, workspace_id, flow, template=template.name)
    result = flows.publish(db, workspace_id, record.id, admin_id=admin_id)
    return Used(flows.require_flow(db, workspace_id, record.id), result)
