"""The sidebar as the docs describe it: Recovery → Retry policy, and an Email settings group
(dunning copy, send domain, branding), each marking the page you are on."""

import re

from tests.conftest import login


def nav_of(html: str) -> str:
    return html.split("<nav>", 1)[1].split("</nav>", 1)[0]


def current(html: str) -> list[str]:
    return re.findall(r'aria-current="page">([^<]+)</a>', nav_of(html))


def test_the_sidebar_has_retry_policy_under_recovery_and_an_email_settings_group(client, olivia, acme):
    login(client, olivia)
    nav = nav_of(client.get("/w/acme/overview").text)
    recovery = nav.split(">Recovery</a>", 1)[1].split("</li>\n        <li>", 1)[0]
    assert '<a href="/w/acme/settings/retry-policy">Retry policy</a>' in recovery
    group = nav.split('id="nav-email-settings">Email settings</span>', 1)[1].split("</ul>", 1)[0]
    assert [label for _, label in re.findall(r'<a href="([^"]+)"[^>]*>([^<]+)</a>', group)] == [
        "Dunning copy",
        "Send domain",
        "Branding",
    ]
    assert 'href="/w/acme/settings/email"' in group and 'href="/w/acme/settings/send-domain"' in group
    assert 'href="/w/acme/settings/email-branding"' in group


def test_the_sidebar_marks_exactly_the_page_you_are_on(client, olivia, acme):
    login(client, olivia)
    for path, expected in (
        ("/w/acme/overview", ["Overview"]),
        ("/w/acme/settings/retry-policy", ["Retry policy"]),
        ("/w/acme/settings/email", ["Dunning copy"]),
        ("/w/acme/settings/send-domain", ["Send domain"]),
        ("/w/acme/settings/email-branding", ["Branding"]),
        ("/w/acme/settings/members", ["Settings"]),
    ):
        page = client.get(path)
        assert page.status_code == 200, path
        assert current(page.text) == expected, path
