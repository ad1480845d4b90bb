"""Settings → Email settings → Win-back: the delay and the coupon a founder can change."""

from backstop.recovery.winback import settings_for
from tests.conftest import login, post_form

PAGE = "/w/acme/settings/email"


def test_it_saves_the_win_back_delay_and_coupon(client, db, olivia, acme):
    login(client, olivia)
    assert 'value="14"' in client.get(PAGE).text
    response = post_form(
        client, PAGE, f"{PAGE}/winback", {"winback_days": "21", "winback_coupon": "COMEBACK20"}
    )
    assert response.status_code in (302, 303)
    assert settings_for(db, acme.id) == (21, "COMEBACK20")  # what the win-back job reads


def test_it_explains_bad_values_next_to_the_fields(client, db, olivia, acme):
    login(client, olivia)
    response = post_form(
        client, PAGE, f"{PAGE}/winback", {"winback_days": "0", "winback_coupon": "bad coupon!"}
    )
    assert response.status_code == 400
    assert "1 to 90 days" in response.text and "coupon&#39;s ID" in response.text
    assert settings_for(db, acme.id) == (14, None)


def test_a_member_cannot_change_it(client, db, olivia, marco, acme):
    from backstop.workspaces.workspaces import add_member

    add_member(db, acme, marco.admin.email, "member")
    login(client, marco)
    response = post_form(client, PAGE, f"{PAGE}/winback", {"winback_days": "30", "winback_coupon": ""})
    assert response.status_code == 403
    assert settings_for(db, acme.id) == (14, None)
