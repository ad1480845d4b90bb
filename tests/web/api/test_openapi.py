"""The published description of the API: a valid OpenAPI 3.1 document and a readable page."""

from __future__ import annotations

import dataclasses

import hypothesis
import pytest
import schemathesis
from openapi_spec_validator import validate
from schemathesis.checks import positive_data_acceptance

from backstop.web.api.errors import ERROR_TYPES
from tests.email.fixtures import dns_server  # noqa: F401 - a fixture


@pytest.fixture
def document(client) -> dict:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/vnd.oai.openapi+json")
    return response.json()


def test_the_document_is_valid_openapi_3_1(document):
    assert document["openapi"].startswith("3.1")
    validate(document)


def test_it_needs_no_token_to_read_the_document(client):
    assert client.get("/api/v1/openapi.json").status_code == 200
    assert client.get("/api/v1/reference").status_code == 200


def test_it_lists_stats_behind_the_bearer_scheme(document):
    assert document["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "A workspace's API token, bk_test_… or bk_live_….",
    }
    operation = document["paths"]["/api/v1/stats"]["get"]
    assert operation["security"] == [{"bearerAuth": []}]
    assert set(operation["responses"]) >= {"200", "401", "429"}


def test_it_describes_the_error_shape_for_refusals(document):
    operation = document["paths"]["/api/v1/stats"]["get"]
    for status in ("401", "429"):
        ref = operation["responses"][status]["content"]["application/json"]["schema"]["$ref"]
        body = document["components"]["schemas"][ref.rsplit("/", 1)[1]]
        assert body["required"] == ["error"]
    detail = document["components"]["schemas"]["ErrorDetail"]
    assert detail["properties"]["type"]["enum"] == list(ERROR_TYPES)
    assert set(operation["responses"]["200"]["headers"]) == {
        "X-RateLimit-Limit",
        "X-RateLimit-Remaining",
        "X-RateLimit-Reset",
    }


def test_it_keeps_admin_and_internal_pages_out_of_the_document(document):
    assert all(path.startswith("/api/v1/") for path in document["paths"])
    assert "/api/v1/reference" not in document["paths"]
    assert not any("{path" in path for path in document["paths"])


def test_the_reference_page_renders_every_endpoint(client):
    page = client.get("/api/v1/reference")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "Backstop REST API" in page.text
    assert "GET /api/v1/stats" in page.text
    assert "Aggregate numbers" in page.text
    assert 'href="/api/v1/openapi.json"' in page.text


def test_the_api_keeps_to_its_own_document(settings, db, acme_auth, dns_server):  # noqa: F811
    """Generated requests, valid and invalid, against every documented operation: no 500s,
    and every answer matches the status codes, headers and bodies the document declares."""
    from backstop.web.app import create_app

    # A high limit, so generated requests are judged on their content rather than throttled; a
    # local DNS server that knows no name, so generated webhook URLs are never looked up outside.
    app = create_app(
        dataclasses.replace(settings, api_rate_limit=100_000, dns_resolvers=(dns_server.address,)),
        run_jobs=False,
    )
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert [f"{op.method.upper()} {op.path}" for op in operations] == [
        "GET /api/v1/stats",
        "GET /api/v1/customers",
        "GET /api/v1/customers/{customer_id}",
        "GET /api/v1/campaigns",
        "GET /api/v1/campaigns/{campaign_id}",
        "GET /api/v1/webhook_endpoints",
        "POST /api/v1/webhook_endpoints",
        "GET /api/v1/webhook_endpoints/{endpoint_id}",
        "POST /api/v1/webhook_endpoints/{endpoint_id}",
        "DELETE /api/v1/webhook_endpoints/{endpoint_id}",
        "POST /api/v1/webhook_endpoints/{endpoint_id}/rotate_secret",
        "POST /api/v1/webhook_endpoints/{endpoint_id}/test",
    ]

    for operation in operations:
        # A cursor is opaque (the document says so): only one the API made is valid, which no
        # schema can describe, so a generated one is rightly refused with 400. Requests without a
        # cursor face every check; requests with one face every check but "schema-valid data is
        # accepted".
        paged = any(p.name == "cursor" for p in operation.query)
        # Likewise a webhook URL is accepted only when its host resolves to a public address.
        takes_url = operation.method.upper() == "POST" and operation.path.startswith(
            "/api/v1/webhook_endpoints"
        )
        strategy = operation.as_strategy()

        @hypothesis.given(case=strategy)
        @hypothesis.settings(max_examples=30, deadline=None, database=None)
        def keeps_to_the_document(case):
            # Run at once, inside this iteration: the loop variable is the current one.
            with_cursor = paged and (case.query or {}).get("cursor") not in (None, "")  # noqa: B023
            excluded = [positive_data_acceptance] if with_cursor or takes_url else []  # noqa: B023
            case.call_and_validate(headers=acme_auth, excluded_checks=excluded)

        keeps_to_the_document()


def test_the_cursor_is_documented_as_opaque(document):
    for path in ("/api/v1/customers", "/api/v1/campaigns"):
        (cursor,) = [p for p in document["paths"][path]["get"]["parameters"] if p["name"] == "cursor"]
        assert cursor["description"].startswith("Opaque:")
