"""The weekly summary email reads whole with any week's numbers: zero, missing, one, many."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from backstop.email.branding import Branding
from backstop.email.render import render_email
from backstop.reporting.weekly import Summary, email_context, week_label

PUBLIC = "https://backstop.example.com"
BRANDING = Branding(workspace_id=1, company="Acme Analytics")


def summary(**changes) -> Summary:
    values = {
        "workspace_id": 1,
        "slug": "acme",
        "name": "Acme Analytics",
        "week": "2026-11-23",
        "label": "23–29 November 2026",
        "recovered": None,
        "recovered_count": 0,
        "lost": None,
        "lost_count": 0,
        "saved": None,
        "saves": 0,
        "stalled_count": 0,
        "stalled": [],
    }
    return Summary(**{**values, **changes})


def rendered(s: Summary):
    context = email_context(s, PUBLIC)
    return render_email("weekly_summary", context, BRANDING, PUBLIC, context["settings_url"])


def reader_text(html: str) -> str:
    html = re.sub(r"(?s)<head>.*?</head>|<style.*?</style>", "", html)
    html = re.sub(r"(?i)</?(p|h1|div|td|tr|table|br|li|ul|body|html)\b[^>]*>", "\n", html)
    return re.sub(r"<[^>]+>", "", html)


def gaps(text: str) -> list[str]:
    found = [f"renders {w}" for w in ("None", "null", "undefined", "nan") if re.search(rf"\b{w}\b", text)]
    for line in (" ".join(line.split()) for line in text.splitlines()):
        if re.search(r"\s[.,:;]|\.\s*\.|\(\s*\)|\b(from|of|for|at|in|since)\s*[.,:;]|^[.,:;]|:\s*$", line):
            found.append(f"a gap where a value was: {line!r}")
        if re.search(r"\$0\.00|\b0 (save|campaign|failed payment)", line):
            found.append(f"a zero said as a number: {line!r}")
    return found


WEEKS = {
    "quiet": summary(),
    "missing amounts": summary(recovered_count=2, lost_count=1, saves=3),
    "one of each": summary(
        recovered="$49.00",
        recovered_count=1,
        lost="$49.00",
        lost_count=1,
        saved="$29.00",
        saves=1,
        stalled_count=1,
        stalled=[{"id": 7, "who": "ada@acme.test", "amount": "$49.00", "opened": "2 November"}],
    ),
    "many": summary(
        recovered="$490.00 + €30.00",
        recovered_count=11,
        lost="$98.00",
        lost_count=2,
        saved="$147.00",
        saves=3,
        stalled_count=8,
        stalled=[
            {"id": n, "who": f"Customer {n}", "amount": "$49.00", "opened": "1 November"} for n in range(5)
        ],
    ),
}


@pytest.mark.parametrize("name", WEEKS)
def test_it_reads_whole_with_any_weeks_numbers(name):
    email = rendered(WEEKS[name])
    for part in (email.subject, reader_text(email.html), email.text):
        assert gaps(part) == [], (name, part)


def test_a_quiet_week_says_so_in_words():
    email = rendered(WEEKS["quiet"])
    assert "A quiet week" in email.text
    for line in (
        "Recovered: No failed payment was recovered.",
        "Lost: No campaign was lost.",
        "Saved by cancel flows: No subscription was saved by a cancel flow.",
        "Needing a look: No campaign is stalled.",
    ):
        assert line in email.text


def test_a_busy_week_gives_the_amounts_counts_and_links():
    email = rendered(WEEKS["many"])
    assert email.subject == "Your week with Backstop: Acme Analytics, 23–29 November 2026"
    assert "Recovered: $490.00 + €30.00 from 11 failed payments" in email.text
    assert "Lost: $98.00 from 2 campaigns that ran out of retries" in email.text
    assert "Saved by cancel flows: $147.00 of monthly revenue from 3 saves" in email.text
    assert "8 campaigns have been in flight for 14 days or more." in email.text
    assert "And 3 more: https://backstop.example.com/w/acme/recovery" in email.text
    assert "https://backstop.example.com/w/acme/recovery/4" in email.html
    assert "https://backstop.example.com/w/acme/overview" in email.html
    assert "A quiet week" not in email.text


def test_counts_without_amounts_still_read_as_sentences():
    email = rendered(WEEKS["missing amounts"])
    assert "Saved by cancel flows: 3 saves" in email.text
    assert "Recovered: 2 failed payments" in email.text
    assert "Lost: 1 campaign that ran out of retries" in email.text


def test_the_week_label_spans_months_and_years():
    assert week_label(datetime(2026, 11, 30, tzinfo=UTC)) == "30 November – 6 December 2026"
    assert week_label(datetime(2026, 12, 28, tzinfo=UTC)) == "28 December 2026 – 3 January 2027"
    assert week_label(datetime(2026, 11, 23, tzinfo=UTC)) == "23–29 November 2026"
