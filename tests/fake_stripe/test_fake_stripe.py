"""The fake Stripe driven through the real `stripe` SDK: keys, customers, lists, errors, idempotency,
faults, Connect. Billing flows are in test_fake_stripe_billing.py, webhooks in test_fake_stripe_webhooks.py."""

from __future__ import annotations

import re
import time

import pytest
import stripe

from tests.fake_stripe import FakeStripe


def test_it_creates_and_reads_back_a_customer(stripe_client: stripe.StripeClient):
    created = stripe_client.v1.customers.create(
        params={"email": "olivia@acme.test", "name": "Olivia", "metadata": {"plan": "pro"}}
    )
    assert created.id.startswith("cus_")
    assert created.object == "customer"
    assert created.livemode is False
    fetched = stripe_client.v1.customers.retrieve(created.id)
    assert fetched.email == "olivia@acme.test"
    assert fetched.metadata["plan"] == "pro"
    assert fetched.invoice_settings.default_payment_method is None


def test_it_updates_merges_metadata_and_deletes_a_customer(fake_stripe: FakeStripe, stripe_client):
    cus = stripe_client.v1.customers.create(
        params={"email": "a@example.com", "metadata": {"a": "1", "b": "2"}}
    )
    updated = stripe_client.v1.customers.update(
        cus.id, params={"name": "Ann", "metadata": {"a": "", "c": "3"}}
    )
    assert updated.metadata.to_dict() == {"b": "2", "c": "3"}
    gone = stripe_client.v1.customers.delete(cus.id)
    assert gone.deleted is True
    assert stripe_client.v1.customers.retrieve(cus.id).deleted is True
    types = [e["type"] for e in fake_stripe.events()]
    assert types == ["customer.deleted", "customer.updated", "customer.created"]
    assert fake_stripe.events("customer.updated")[0]["data"]["previous_attributes"]["name"] is None


def test_it_also_answers_the_global_api_base_style(fake_stripe: FakeStripe, monkeypatch):
    monkeypatch.setattr(stripe, "api_key", fake_stripe.secret_key)
    monkeypatch.setattr(stripe, "api_base", fake_stripe.url)
    cus = stripe.Customer.create(email="global@example.com")
    assert stripe.Customer.retrieve(cus.id).email == "global@example.com"


def test_it_rejects_unknown_and_missing_keys(fake_stripe: FakeStripe):
    with pytest.raises(stripe.AuthenticationError) as exc:
        fake_stripe.client("sk_test_nobodyknowsthisone").v1.customers.list()
    assert exc.value.http_status == 401
    assert "Invalid API Key provided" in exc.value.user_message
    key = fake_stripe.add_key()
    fake_stripe.client(key).v1.customers.list()
    fake_stripe.revoke_key(key)
    with pytest.raises(stripe.AuthenticationError, match="Expired API Key"):
        fake_stripe.client(key).v1.customers.list()


def test_a_live_key_sees_live_data_only(fake_stripe: FakeStripe):
    live = fake_stripe.client(fake_stripe.live_secret_key)
    cus = live.v1.customers.create(params={"email": "live@example.com"})
    assert cus.livemode is True
    assert [c.id for c in live.v1.customers.list().data] == [cus.id]
    assert fake_stripe.client().v1.customers.list().data == []


def test_a_restricted_key_gets_stripes_permission_error_naming_the_missing_permission(
    fake_stripe: FakeStripe,
):
    key = fake_stripe.add_key(
        "rk_test_backstop_probe_0001", permissions={"customers": "write", "invoices": "read"}
    )
    client = fake_stripe.client(key)
    client.v1.customers.create(params={"email": "x@example.com"})
    client.v1.invoices.list()
    with pytest.raises(stripe.PermissionError) as exc:
        client.v1.invoices.create(params={"customer": "cus_x"})
    assert exc.value.http_status == 403
    assert "'rak_invoice_write'" in exc.value.user_message
    assert "rk_test_" in exc.value.user_message and "0001" in exc.value.user_message
    with pytest.raises(stripe.PermissionError, match="rak_subscription_read"):
        client.v1.subscriptions.list()


def test_errors_have_stripes_shape(stripe_client):
    with pytest.raises(stripe.InvalidRequestError) as missing:
        stripe_client.v1.customers.retrieve("cus_doesnotexist")
    assert missing.value.http_status == 404
    assert missing.value.code == "resource_missing"
    assert missing.value.param == "id"
    assert missing.value.json_body["error"]["type"] == "invalid_request_error"
    with pytest.raises(stripe.InvalidRequestError) as unknown:
        stripe_client.v1.customers.create(params={"emial": "typo@example.com"})
    assert unknown.value.param == "emial"
    assert "Received unknown parameter" in unknown.value.user_message
    with pytest.raises(stripe.InvalidRequestError) as limit:
        stripe_client.v1.customers.list(params={"limit": 101})
    assert limit.value.param == "limit"


def test_lists_paginate_newest_first_with_cursors(fake_stripe: FakeStripe, stripe_client):
    ids = fake_stripe.seed_customers(25)  # created in order: the last is the newest
    page1 = stripe_client.v1.customers.list(params={"limit": 10})
    assert page1.object == "list" and page1.url == "/v1/customers" and page1.has_more is True
    assert [c.id for c in page1.data] == ids[::-1][:10]
    page2 = stripe_client.v1.customers.list(params={"limit": 10, "starting_after": page1.data[-1].id})
    assert [c.id for c in page2.data] == ids[::-1][10:20]
    back = stripe_client.v1.customers.list(params={"limit": 5, "ending_before": page2.data[0].id})
    assert [c.id for c in back.data] == ids[::-1][5:10]
    assert back.has_more is True
    everyone = [c.id for c in stripe_client.v1.customers.list(params={"limit": 100}).auto_paging_iter()]
    assert everyone == ids[::-1]


def test_lists_expand_nested_ids(fake_stripe: FakeStripe, stripe_client):
    price = fake_stripe.create_price(1500)
    story_ids = fake_stripe.seed_customers(3, price=price["id"])
    subs = stripe_client.v1.subscriptions.list(
        params={"expand": ["data.customer", "data.default_payment_method", "data.latest_invoice"]}
    )
    assert {s.customer.id for s in subs.data} == set(story_ids)
    assert all(s.latest_invoice.object == "invoice" for s in subs.data)
    cus = stripe_client.v1.customers.retrieve(
        story_ids[0], params={"expand": ["invoice_settings.default_payment_method"]}
    )
    assert cus.invoice_settings.default_payment_method.card.last4 == "4242"
    with pytest.raises(stripe.InvalidRequestError, match="cannot be expanded"):
        stripe_client.v1.subscriptions.list(params={"expand": ["data.status"]})


def test_idempotency_key_replays_the_first_response(fake_stripe: FakeStripe, stripe_client):
    first = stripe_client.v1.customers.create(
        params={"email": "once@example.com"}, options={"idempotency_key": "signup-42"}
    )
    again = stripe_client.v1.customers.create(
        params={"email": "once@example.com"}, options={"idempotency_key": "signup-42"}
    )
    assert again.id == first.id
    assert len(stripe_client.v1.customers.list().data) == 1
    replayed = fake_stripe.requests.filter("POST", "/v1/customers")[-1]
    assert replayed.replayed and replayed.idempotency_key == "signup-42"
    with pytest.raises(stripe.IdempotencyError) as exc:
        stripe_client.v1.customers.create(
            params={"email": "other@example.com"}, options={"idempotency_key": "signup-42"}
        )
    assert exc.value.http_status == 400


def test_idempotency_key_replays_a_decline_too(fake_stripe: FakeStripe, stripe_client):
    story = fake_stripe.customer_with_declining_card("insufficient_funds")
    invoice = fake_stripe.renewal_fails(story.subscription["id"])
    for _ in range(2):
        with pytest.raises(stripe.CardError) as exc:
            stripe_client.v1.invoices.pay(invoice["id"], options={"idempotency_key": "retry-1"})
        assert exc.value.http_status == 402
    assert fake_stripe.get(invoice["id"])["attempt_count"] == 2  # renewal + one real retry, not two


def test_injected_429_carries_retry_after_and_counts_down(fake_stripe: FakeStripe, stripe_client):
    fake_stripe.faults.rate_limit(count=2, path="/v1/customers", retry_after=3)
    for _ in range(2):
        with pytest.raises(stripe.RateLimitError) as exc:
            stripe_client.v1.customers.list()
        assert exc.value.http_status == 429
        assert exc.value.headers["Retry-After"] == "3"
    stripe_client.v1.customers.list()
    stripe_client.v1.products.list()
    assert [r.fault for r in fake_stripe.requests] == ["rate_limit", "rate_limit", None, None]
    fake_stripe.faults.rate_limit(should_retry=True)
    fake_stripe.client(max_network_retries=1).v1.customers.list()  # the SDK retries only when told to
    assert [r.status for r in fake_stripe.requests][-2:] == [429, 200]


def test_injected_500_is_retried_by_the_sdk_when_allowed(fake_stripe: FakeStripe):
    fake_stripe.faults.server_error(count=1, path="/v1/customers")
    with pytest.raises(stripe.APIError):
        fake_stripe.client().v1.customers.list()
    fake_stripe.faults.server_error(count=1, method="POST")
    retrying = fake_stripe.client(max_network_retries=1)
    created = retrying.v1.customers.create(params={"email": "r@example.com"})
    posts = fake_stripe.requests.filter("POST", "/v1/customers")
    assert [p.status for p in posts] == [500, 200]
    assert posts[0].idempotency_key == posts[1].idempotency_key  # so the retry cannot double-create
    assert created.email == "r@example.com"


def test_slow_faults_and_latency_delay_answers(fake_stripe: FakeStripe, stripe_client):
    fake_stripe.faults.slow(0.3, path="/v1/products")
    started = time.monotonic()
    stripe_client.v1.products.list()
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    stripe_client.v1.products.list()
    assert time.monotonic() - started < 0.3


def test_the_request_log_shows_what_was_asked(fake_stripe: FakeStripe, stripe_client):
    stripe_client.v1.customers.list(params={"limit": 100, "expand": ["data.default_source"]})
    (logged,) = fake_stripe.requests.filter("GET", "/v1/customers")
    assert logged.params == {"limit": "100", "expand": ["data.default_source"]}
    assert logged.api_key == fake_stripe.secret_key
    assert logged.stripe_version == stripe.api_version
    assert fake_stripe.requests.filter(path=re.compile(r"^/v1/customers/cus_")) == []


def test_connected_accounts_are_isolated_by_the_stripe_account_header(fake_stripe: FakeStripe):
    north, south = fake_stripe.connect_account(), fake_stripe.connect_account()
    platform = fake_stripe.client()
    as_north = fake_stripe.client(account=north)
    cus = as_north.v1.customers.create(params={"email": "n@example.com"})
    assert [c.id for c in as_north.v1.customers.list().data] == [cus.id]
    assert fake_stripe.client(account=south).v1.customers.list().data == []
    assert platform.v1.customers.list().data == []
    with pytest.raises(stripe.InvalidRequestError):
        fake_stripe.client(account=south).v1.customers.retrieve(cus.id)
    (event,) = as_north.v1.events.list().data
    assert event.account == north and event.type == "customer.created"
    assert platform.v1.accounts.retrieve(north).id == north


def test_oauth_code_exchange_then_deauthorize(fake_stripe: FakeStripe):
    platform = fake_stripe.client(client_id=fake_stripe.client_id)
    code = fake_stripe.oauth_code(scope="read_write")
    token = platform.oauth.token(params={"grant_type": "authorization_code", "code": code})
    account = token["stripe_user_id"]
    assert account.startswith("acct_") and token["scope"] == "read_write" and token["livemode"] is False
    fake_stripe.client(account=account).v1.customers.create(params={"email": "c@example.com"})
    with pytest.raises(stripe.oauth_error.InvalidGrantError):
        platform.oauth.token(params={"grant_type": "authorization_code", "code": code})
    assert platform.oauth.deauthorize(params={"stripe_user_id": account})["stripe_user_id"] == account
    with pytest.raises(stripe.PermissionError) as exc:
        fake_stripe.client(account=account).v1.customers.list()
    assert exc.value.json_body["error"]["code"] == "account_invalid"
    (event,) = fake_stripe.events("account.application.deauthorized", account=account)
    assert event["account"] == account and event["data"]["object"]["id"] == fake_stripe.client_id


def test_oauth_authorize_redirects_back_with_code_and_state(fake_stripe: FakeStripe):
    import httpx

    answer = httpx.get(
        f"{fake_stripe.url}/oauth/authorize",
        params={
            "response_type": "code",
            "client_id": fake_stripe.client_id,
            "scope": "read_write",
            "state": "signed-state-123",
            "redirect_uri": "http://127.0.0.1:9/stripe/callback",
        },
    )
    assert answer.status_code == 302
    location = answer.headers["location"]
    assert location.startswith("http://127.0.0.1:9/stripe/callback?code=ac_")
    assert "state=signed-state-123" in location


def test_events_list_with_cursors_types_and_created(fake_stripe: FakeStripe, stripe_client):
    fake_stripe.clock.freeze(1_800_000_000)
    first = fake_stripe.create_customer(email="early@example.com")
    fake_stripe.clock.advance(60)
    fake_stripe.create_customer(email="late@example.com")
    fake_stripe.create_price(900)
    everything = stripe_client.v1.events.list(params={"limit": 100}).data
    assert [e.type for e in everything] == [
        "price.created",
        "product.created",
        "customer.created",
        "customer.created",
    ]
    only_customers = stripe_client.v1.events.list(params={"types": ["customer.created"]}).data
    assert len(only_customers) == 2
    recent = stripe_client.v1.events.list(params={"created": {"gte": 1_800_000_060}}).data
    assert len(recent) == 3
    newer = stripe_client.v1.events.list(params={"ending_before": everything[-1].id}).data
    assert [e.id for e in newer] == [e.id for e in everything[:-1]]
    assert everything[-1].data.object.id == first["id"]
    assert everything[-1].request.id is None  # made by a helper, not by an API request
    api_made = stripe_client.v1.customers.create(params={"email": "api@example.com"})
    latest = stripe_client.v1.events.list(params={"limit": 1}).data[0]
    assert latest.data.object.id == api_made.id and latest.request.id.startswith("req_")
    fake_stripe.clock.advance(days=31)
    assert stripe_client.v1.events.list().data == []  # Stripe keeps events listable for 30 days


def test_seeded_customers_can_span_days_and_lists_filter_by_created(fake_stripe: FakeStripe, stripe_client):
    fake_stripe.seed_customers(30, spread_days=30)
    everyone = stripe_client.v1.customers.list(params={"limit": 100}).data
    created = [c.created for c in everyone]
    assert created == sorted(created, reverse=True)  # newest first
    assert 28 * 86400 <= created[0] - created[-1] <= 30 * 86400
    middle = created[15]
    older = stripe_client.v1.customers.list(params={"limit": 100, "created": {"lt": middle}}).data
    assert older and all(c.created < middle for c in older)


def test_the_request_log_counts_the_busiest_second(fake_stripe: FakeStripe, stripe_client):
    for _ in range(5):
        stripe_client.v1.customers.list(params={"limit": 1})
    assert fake_stripe.requests.busiest_second() == 5
    assert fake_stripe.requests.busiest_second(api_key="sk_test_other") == 0
    log = fake_stripe.requests
    assert all(a.at <= b.at for a, b in zip(log, list(log)[1:], strict=False))
