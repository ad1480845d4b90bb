import json

import pytest
import stripe
import time_machine

from backstop.stripe_sync.signature import SignatureError, signature_header, verify_stripe_signature

SECRET = "whsec_test_acme_endpoint"
BODY = json.dumps({"id": "evt_1", "object": "event", "type": "invoice.payment_failed"}).encode()
NOW = 1_790_000_000


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def test_it_accepts_what_stripes_own_library_signs():
    header = stripe.WebhookSignature._compute_signature(f"{NOW}.{BODY.decode()}", SECRET)
    assert verify_stripe_signature(BODY, f"t={NOW},v1={header}", [SECRET]) == NOW


def test_it_signs_the_way_stripes_library_verifies():
    event = stripe.Webhook.construct_event(BODY.decode(), signature_header(SECRET, BODY), SECRET)
    assert event["id"] == "evt_1"


def test_it_accepts_any_matching_v1_among_several():
    good = signature_header(SECRET, BODY).split("v1=")[1]
    header = f"t={NOW},v1={'0' * 64},v1={good}"
    assert verify_stripe_signature(BODY, header, [SECRET]) == NOW


def test_it_accepts_either_secret_while_one_is_being_rolled():
    header = signature_header("whsec_new", BODY)
    assert verify_stripe_signature(BODY, header, ["whsec_old", "whsec_new"]) == NOW


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "missing"),
        ("", "missing"),
        ("garbage", "malformed"),
        ("t=abc,v1=00", "not a number"),
        ("v1=00", "no timestamp"),
        (f"t={NOW}", "no v1"),
        (f"t={NOW},v0=00", "no v1"),
    ],
)
def test_it_refuses_missing_or_garbled_headers(header, reason):
    with pytest.raises(SignatureError, match=reason):
        verify_stripe_signature(BODY, header, [SECRET])


def test_it_refuses_a_stale_signature():
    header = signature_header(SECRET, BODY, timestamp=NOW - 301)
    with pytest.raises(SignatureError, match="301 seconds old"):
        verify_stripe_signature(BODY, header, [SECRET])


def test_it_accepts_a_signature_just_inside_the_tolerance():
    header = signature_header(SECRET, BODY, timestamp=NOW - 300)
    assert verify_stripe_signature(BODY, header, [SECRET]) == NOW - 300


def test_it_refuses_a_signature_from_the_future():
    header = signature_header(SECRET, BODY, timestamp=NOW + 301)
    with pytest.raises(SignatureError, match="future"):
        verify_stripe_signature(BODY, header, [SECRET])


def test_it_refuses_the_wrong_secret():
    header = signature_header("whsec_someone_else", BODY)
    with pytest.raises(SignatureError, match="No signature matches"):
        verify_stripe_signature(BODY, header, [SECRET])


def test_it_refuses_a_body_changed_after_signing():
    header = signature_header(SECRET, BODY)
    with pytest.raises(SignatureError, match="No signature matches"):
        verify_stripe_signature(BODY.replace(b"failed", b"succeeded"), header, [SECRET])
