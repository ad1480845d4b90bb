"""Settings → Email branding: checked inputs, a size- and type-checked logo, and the preview."""

from __future__ import annotations

import pytest

from backstop.email.branding import get_branding
from tests.builders import field_error, text_of
from tests.conftest import csrf_from

PAGE = "/w/acme/settings/email-branding"
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


def save(client, fields: dict, logo: tuple[str, bytes, str] | None = None):
    token = csrf_from(client.get(PAGE).text)
    data = {
        "_csrf_token": token,
        "from_name": "",
        "reply_to": "",
        "brand_color": "#3b5bdb",
        "footer": "",
        "theme": "auto",
    }
    data.update(fields)
    files = {"logo": logo} if logo else {"logo": ("", b"", "application/octet-stream")}
    return client.post(PAGE, data=data, files=files, follow_redirects=False)


def test_it_saves_the_branding_and_serves_the_logo(as_olivia, db, acme):
    response = save(
        as_olivia,
        {
            "from_name": "Acme Billing",
            "reply_to": "Help@Acme.test",
            "brand_color": "#FF6600",
            "theme": "dark",
        },
        ("logo.png", PNG, "image/png"),
    )
    assert response.status_code in (302, 303)
    branding = get_branding(db, acme.id)
    assert (branding.from_name, branding.reply_to, branding.brand_color, branding.theme) == (
        "Acme Billing", "help@acme.test", "#ff6600", "dark",
    )  # fmt: skip
    logo = as_olivia.get(branding.logo_path())
    assert logo.status_code == 200 and logo.content == PNG
    assert logo.headers["content-type"] == "image/png"
    assert "Branding saved." in text_of(as_olivia.get(response.headers["location"]).text)


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"from_name": "Acme\r\nBcc: victim@evil.test"}, "from_name", "can't contain line breaks"),
        ({"reply_to": "help@acme.test\r\nBcc: x@evil.test"}, "reply_to", "isn't an email address"),
        ({"reply_to": "not-an-address"}, "reply_to", "isn't an email address"),
        ({"brand_color": "red; background:url(x)"}, "brand_color", "a # and six hex digits"),
        ({"theme": "neon"}, "theme", "Pick light, dark or auto"),
    ],
)
def test_it_refuses_bad_input_next_to_the_field(as_olivia, db, acme, fields, field, message):
    response = save(as_olivia, fields)
    assert response.status_code == 400
    if field == "theme":
        assert message in text_of(response.text)
    else:
        assert message in field_error(response.text, field)
    assert get_branding(db, acme.id).from_name is None


@pytest.mark.parametrize(
    ("logo", "message"),
    [
        (("huge.png", PNG + b"\0" * 300_000, "image/png"), "That image is 293 KB; upload one under 200 KB"),
        (
            (
                "logo.svg",
                b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
                "image/svg+xml",
            ),
            "That file is an SVG",
        ),
        (("notes.png", b"just some text pretending", "image/png"), "not an image Backstop can use"),
        (("logo.webp", b"RIFF\0\0\0\0WEBPVP8 ", "image/webp"), "a WebP image"),
    ],
)
def test_it_refuses_an_oversized_or_non_image_logo(as_olivia, db, acme, logo, message):
    response = save(as_olivia, {}, logo)
    assert response.status_code == 400
    assert message in field_error(response.text, "logo")
    assert get_branding(db, acme.id).logo_path() is None


def test_the_preview_follows_unsaved_values_and_ignores_bad_ones(as_olivia):
    response = as_olivia.get(PAGE + "/preview", params={"brand_color": "#123456", "from_name": "Preview Co"})
    assert response.status_code == 200
    assert "background: #123456" in response.text
    assert "script-src" not in response.headers["content-security-policy"]
    bad = as_olivia.get(PAGE + "/preview", params={"brand_color": "red;x:url(evil)"})
    assert "evil" not in bad.text and "background: #3b5bdb" in bad.text


def test_a_member_sees_the_branding_but_cannot_change_it(as_marco, db, acme):
    assert "Only an owner can change the branding." in text_of(as_marco.get(PAGE).text)
    assert save(as_marco, {"from_name": "Marco's Shop"}).status_code == 403
    assert get_branding(db, acme.id).from_name is None
