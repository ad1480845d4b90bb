"""Turning a kind, a context and a workspace's branding into subject, HTML and plain text.

HTML is autoescaped and its CSS inlined with css-inline (media queries kept for phones and dark
mode); the text part is written for people, not stripped from the HTML.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import css_inline
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from backstop.email.branding import Branding
from backstop.email.kinds import get_kind
from backstop.email.policy import flatten_header
from backstop.lib.money import money
from backstop.paths import templates_dir


@dataclass(frozen=True)
class Rendered:
    subject: str
    html: str
    text: str


# Stripe's brand keys (card.brand) as people write them.
CARD_BRANDS = {
    "amex": "American Express",
    "american express": "American Express",
    "cartes_bancaires": "Cartes Bancaires",
    "diners": "Diners Club",
    "diners club": "Diners Club",
    "discover": "Discover",
    "eftpos_au": "eftpos",
    "interac": "Interac",
    "jcb": "JCB",
    "link": "Link",
    "mastercard": "Mastercard",
    "unionpay": "UnionPay",
    "visa": "Visa",
}


def card_brand(value: str | None) -> str:
    """'visa' → 'Visa'; no brand at all → 'card' (so "your card ending in 4242")."""
    key = (value or "").strip().lower()
    if not key or key == "unknown":
        return "card"
    return CARD_BRANDS.get(key, key.replace("_", " ").title())


def first_name(value: str | None) -> str | None:
    """The first word of a name ("Ivan Iversen" → "Ivan"); None when there is no usable name."""
    words = (value or "").split()
    if not words or "@" in words[0]:
        return None
    return words[0].strip(",")


# Data a template must read well without (each has a test rendering it absent).
OPTIONAL = (
    "customer_name",
    "card_brand",
    "card_last4",
    "decline_message",
    "coupon_text",
    "paid_on",
    "receipt_url",
)


@functools.cache
def _environments() -> tuple[Environment, Environment]:
    loader = FileSystemLoader(str(templates_dir() / "emails"))
    html = Environment(loader=loader, autoescape=select_autoescape(["html"]), undefined=StrictUndefined)
    text = Environment(loader=loader, autoescape=False, undefined=StrictUndefined)  # noqa: S701 - plain text
    for env in (html, text):
        env.filters["money"] = money
        env.filters["card_brand"] = card_brand
        env.trim_blocks = True
        env.lstrip_blocks = True
    return html, text


@functools.cache
def _subject_template(source: str):
    """Subjects are Jinja expressions: compile each once, not on every email."""
    return _environments()[1].from_string(source)


@functools.cache
def _inliner() -> css_inline.CSSInliner:
    return css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)


def base_context(branding: Branding, public_url: str, unsubscribe_url: str) -> dict[str, Any]:
    logo = branding.logo_path()
    return {
        "company": branding.company,
        "from_name": branding.display_name,
        "brand_color": branding.brand_color,
        "footer": branding.footer,
        "logo_url": f"{public_url}{logo}" if logo else None,
        "unsubscribe_url": unsubscribe_url,
        "customer_name": None,
    }


def render_email(
    kind_key: str, context: dict[str, Any], branding: Branding, public_url: str, unsubscribe_url: str
) -> Rendered:
    kind = get_kind(kind_key)
    ctx = {**base_context(branding, public_url, unsubscribe_url), **context}
    name = first_name(ctx.get("customer_name"))
    ctx["greeting"] = f"Hi {name}," if name else "Hi,"
    # One phrase for "the thing being paid for": the plan's name, or words that need none.
    ctx["plan_name"] = ctx.get("plan_name") or None
    ctx["plan"] = ctx["plan_name"] or "your subscription"
    for optional in OPTIONAL:
        ctx.setdefault(optional, None)
    if kind.template == "dunning":
        ctx.setdefault("step", int(kind_key.rsplit("_", 1)[1]))
    html_env, text_env = _environments()
    subject = flatten_header(_subject_template(kind.subject).render(ctx), 250)
    html = html_env.get_template(f"{kind.template}.html").render(ctx, subject=subject)
    text = text_env.get_template(f"{kind.template}.txt").render(ctx, subject=subject)
    return Rendered(subject=subject, html=_inliner().inline(html), text=text.strip() + "\n")


def render_sample(kind_key: str, branding: Branding, public_url: str, customer_name: str = "Sam") -> Rendered:
    """A preview with made-up data: nothing is looked up, nothing is queued."""
    kind = get_kind(kind_key)
    return render_email(
        kind_key,
        {**kind.sample, "customer_name": customer_name},
        branding,
        public_url,
        f"{public_url}/u/preview",
    )
