"""POST /hooks/ses: SNS-signed SES bounce and complaint notifications change what Backstop sends."""

# ruff: noqa: F401, F811 - fixtures imported from tests.email.fixtures are used as parameters
from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from backstop.connectors.ses.sns import string_to_sign
from backstop.db import one
from backstop.email import suppression
from backstop.email.kinds import KINDS
from backstop.email.messages import queue_email
from backstop.settings import Settings
from jobs.email import send_message
from tests.conftest import free_port
from tests.email.fixtures import SHARED_SENDER, aws_env, file_server, make_cert, ses

TOPIC = "arn:aws:sns:us-east-1:123456789012:ses-feedback"


@pytest.fixture
def settings(data_dir, file_server):
    return Settings(
        data_dir=data_dir, secret_key="t" * 48, port=free_port(), email_transport="ses",
        shared_sender=SHARED_SENDER, sns_test_cert_host=file_server.host,
    )  # fmt: skip


@pytest.fixture
def sns(tmp_path, file_server):
    cert = make_cert(tmp_path, "sns-test")
    file_server.files["/SimpleNotificationService-abc.pem"] = cert.cert_pem
    url = file_server.url("/SimpleNotificationService-abc.pem")

    def sign(message: dict) -> bytes:
        body = {"SignatureVersion": "1", "SigningCertURL": url, "TopicArn": TOPIC, **message}
        signature = cert.key.sign(string_to_sign(body), padding.PKCS1v15(), hashes.SHA1())  # noqa: S303
        return json.dumps({**body, "Signature": base64.b64encode(signature).decode()}).encode()

    return sign


@pytest.fixture
def sent(db, settings, acme, ses):
    """A dunning email Sam received through SES; returns (row id, SES message id)."""
    queued = queue_email(
        db, settings, workspace_id=acme.id, kind="dunning_1", to_email="sam@customer.test",
        context=KINDS["dunning_1"].sample,
    )  # fmt: skip
    send_message(queued.id)
    row = one(db, "SELECT provider_message_id FROM email_messages WHERE id = ?", [queued.id])
    return queued.id, row["provider_message_id"]


def notification(message_id: str, event: dict) -> dict:
    return {
        "Type": "Notification",
        "MessageId": message_id,
        "Message": json.dumps(event),
        "Timestamp": "2026-03-01T12:00:00.000Z",
    }


def bounce(ses_id: str, kind: str = "Permanent") -> dict:
    return {
        "notificationType": "Bounce",
        "bounce": {
            "bounceType": kind,
            "bounceSubType": "General",
            "bouncedRecipients": [
                {"emailAddress": "sam@customer.test", "diagnosticCode": "smtp; 550 5.1.1 user unknown"}
            ],
        },
        "mail": {"messageId": ses_id},
    }


def post(client, body: bytes):
    return client.post("/hooks/ses", content=body, headers={"Content-Type": "text/plain; charset=UTF-8"})


def test_a_hard_bounce_marks_the_message_and_stops_later_mail(client, db, acme, sns, sent, settings):
    row_id, ses_id = sent
    response = post(client, sns(notification("n-1", bounce(ses_id))))
    assert response.status_code == 200 and response.text == "hard bounce recorded"
    row = one(db, "SELECT status, status_reason FROM email_messages WHERE id = ?", [row_id])
    assert row["status"] == "bounced" and "550 5.1.1 user unknown" in row["status_reason"]
    assert suppression.state(db, acme.id, "sam@customer.test").hard_bounced
    later = queue_email(
        db, settings, workspace_id=acme.id, kind="dunning_2", to_email="sam@customer.test",
        context=KINDS["dunning_2"].sample,
    )  # fmt: skip
    assert later.status == "suppressed"


def test_a_soft_bounce_does_not_suppress(client, db, acme, sns, sent):
    _, ses_id = sent
    assert post(client, sns(notification("n-2", bounce(ses_id, "Transient")))).text == "soft bounce noted"
    assert not suppression.state(db, acme.id, "sam@customer.test").hard_bounced


def test_a_complaint_is_recorded_once_even_when_sns_redelivers(client, db, acme, sns, sent):
    row_id, ses_id = sent
    body = sns(
        notification(
            "n-3",
            {
                "notificationType": "Complaint",
                "complaint": {
                    "complainedRecipients": [{"emailAddress": "sam@customer.test"}],
                    "complaintFeedbackType": "abuse",
                },
                "mail": {"messageId": ses_id},
            },
        )
    )
    assert post(client, body).text == "complaint recorded"
    first = one(db, "SELECT complained_at FROM email_suppressions WHERE email = ?", ["sam@customer.test"])
    assert post(client, body).text == "Already handled."
    again = one(db, "SELECT complained_at FROM email_suppressions WHERE email = ?", ["sam@customer.test"])
    assert first == again
    assert one(db, "SELECT status FROM email_messages WHERE id = ?", [row_id])["status"] == "complained"


def test_a_forged_notification_changes_nothing(client, db, acme, sns, sent):
    _, ses_id = sent
    body = json.loads(sns(notification("n-4", bounce(ses_id))))
    body["Message"] = json.dumps({**bounce(ses_id), "notificationType": "Complaint"})
    response = post(client, json.dumps(body).encode())
    assert response.status_code == 403 and "does not match" in response.text
    assert suppression.state(db, acme.id, "sam@customer.test") == suppression.Suppression()
    assert one(db, "SELECT COUNT(*) AS n FROM ses_notifications")["n"] == 0


def test_a_notification_about_a_message_we_never_sent_is_ignored(client, db, acme, sns, sent):
    response = post(client, sns(notification("n-5", bounce("0100-not-ours"))))
    assert response.status_code == 200 and response.text.startswith("ignored")
    assert suppression.state(db, acme.id, "sam@customer.test") == suppression.Suppression()


def test_it_confirms_a_subscription_by_visiting_the_signed_link(client, sns, file_server):
    file_server.files["/confirm?Token=abc"] = b"<ConfirmSubscriptionResponse/>"
    body = sns(
        {
            "Type": "SubscriptionConfirmation",
            "MessageId": "s-1",
            "Token": "abc",
            "Message": "You have chosen to subscribe.",
            "SubscribeURL": file_server.url("/confirm?Token=abc"),
            "Timestamp": "2026-03-01T12:00:00.000Z",
        }
    )
    assert post(client, body).text == "Subscription confirmed."
    assert "/confirm?Token=abc" in file_server.hits


def test_it_refuses_a_subscribe_link_to_another_host(client, sns):
    body = sns(
        {
            "Type": "SubscriptionConfirmation",
            "MessageId": "s-2",
            "Token": "abc",
            "Message": "You have chosen to subscribe.",
            "SubscribeURL": "http://169.254.169.254/latest/meta-data/",
            "Timestamp": "2026-03-01T12:00:00.000Z",
        }
    )
    response = post(client, body)
    assert response.status_code == 502 and "must be https on sns" in response.text


def test_it_answers_garbage_with_400(client):
    assert post(client, b"not json").status_code == 400
