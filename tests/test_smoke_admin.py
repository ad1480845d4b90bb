from tests.conftest import login, post_form


def test_it_walks_from_setup_to_overview(client):
    assert client.get("/", follow_redirects=False).headers["location"] == "/setup"
    response = post_form(
        client,
        "/setup",
        "/setup",
        {
            "email": "olivia@acme.test",
            "password": "olivia-owns-the-shop",
            "password_confirm": "olivia-owns-the-shop",
            "workspace_name": "Acme Analytics",
        },
    )
    assert response.headers["location"] == "/w/acme-analytics/overview"
    page = client.get("/w/acme-analytics/overview")
    assert "Get set up" in page.text and "0 of 5 done" in page.text


def test_it_signs_in_an_existing_admin(client, olivia, acme):
    login(client, olivia)
    assert "Acme Analytics" in client.get("/w/acme/overview").text
