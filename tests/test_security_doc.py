"""docs/security.md names the tests that hold each promise: every file it names exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_test_file_the_security_page_names_exists():
    text = (ROOT / "docs" / "security.md").read_text()
    named = set(re.findall(r"`(tests/[\w/]+\.py)`", text))
    assert len(named) > 15
    missing = sorted(p for p in named if not (ROOT / p).is_file())
    assert missing == []


def test_the_readme_links_the_security_page():
    assert "(docs/security.md)" in (ROOT / "README.md").read_text()
