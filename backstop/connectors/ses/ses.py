"""Amazon SES v2 through boto3: sending raw messages and managing Easy DKIM domain identities.

Credentials and region come from the standard AWS chain (environment, profile, instance role).
``AWS_ENDPOINT_URL_SES`` points both at another endpoint (moto in tests).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ReadTimeoutError,
)

from backstop.connectors.ses import MaybeSent, NotSent, OutgoingEmail, Rejected

# SES answers these when it did not take the message and may later.
_RETRYABLE_CODES = {
    "Throttling",
    "ThrottlingException",
    "TooManyRequestsException",
    "LimitExceededException",
    "ServiceUnavailable",
    "InternalFailure",
    "SendingPausedException",
    "AccountSuspendedException",
}


def ses_endpoint() -> str | None:
    # boto3 reads AWS_ENDPOINT_URL_SESV2 for this client; the SES name is the one people set.
    return os.environ.get("AWS_ENDPOINT_URL_SES") or os.environ.get("AWS_ENDPOINT_URL_SESV2") or None


def make_client(**kwargs):
    """An SES v2 client with botocore's own retries off: the send job decides what to retry,
    and a retry inside botocore after a read timeout could deliver a message twice."""
    config = Config(retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=20)
    try:
        return boto3.client("sesv2", endpoint_url=ses_endpoint(), config=config, **kwargs)
    except NoRegionError:
        raise NotSent("SES needs an AWS region: set AWS_DEFAULT_REGION (for example us-east-1) and restart.")


def _error_code(exc: ClientError) -> tuple[str, int, str]:
    err = exc.response.get("Error", {})
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return err.get("Code", ""), status, err.get("Message", str(exc))


class SesMailer:
    name = "ses"

    def __init__(self, configuration_set: str | None = None, client=None) -> None:
        self.configuration_set = configuration_set
        self._client = client

    @property
    def client(self):
        if self._client is None:
            self._client = make_client()
        return self._client

    def send(self, mail: OutgoingEmail) -> str:
        params = {
            "FromEmailAddress": mail.sender,
            "Destination": {"ToAddresses": [mail.recipient]},
            "Content": {"Raw": {"Data": mail.raw}},
        }
        if self.configuration_set:
            params["ConfigurationSetName"] = self.configuration_set
        try:
            response = self.client.send_email(**params)
        except ClientError as exc:
            code, status, message = _error_code(exc)
            if code in _RETRYABLE_CODES or status == 429 or status >= 500:
                raise NotSent(f"SES did not take the message ({code or status}): {message}")
            raise Rejected(f"SES refused the message ({code}): {message}")
        except (EndpointConnectionError, ConnectTimeoutError) as exc:
            raise NotSent(f"SES could not be reached: {exc}")
        except NoCredentialsError:
            raise NotSent(
                "SES has no AWS credentials: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or a role."
            )
        except ReadTimeoutError as exc:
            raise MaybeSent(f"SES did not answer in time after taking the message: {exc}")
        except BotoCoreError as exc:
            raise MaybeSent(f"The connection to SES failed mid-request: {exc}")
        return response["MessageId"]


@dataclass(frozen=True)
class IdentityStatus:
    verified: bool
    dkim_status: str  # PENDING | SUCCESS | FAILED | TEMPORARY_FAILURE | NOT_STARTED | MISSING
    error: str | None = None


class IdentityError(Exception):
    pass


class SesIdentities:
    """Domain identities with Easy DKIM: SES hands out three tokens, the founder publishes three
    CNAMEs, SES checks them and flips the identity to verified."""

    def __init__(self, client=None) -> None:
        self._client = client

    @property
    def client(self):
        if self._client is None:
            try:
                self._client = make_client()
            except NotSent as exc:
                raise IdentityError(exc.reason)
        return self._client

    def _call(self, method: str, **params):
        try:
            return getattr(self.client, method)(**params)
        except ClientError as exc:
            code, _, message = _error_code(exc)
            if code == "NotFoundException":
                raise LookupError(message)
            raise IdentityError(f"SES answered {code}: {message}")
        except NoCredentialsError:
            raise IdentityError("SES has no AWS credentials: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY.")
        except BotoCoreError as exc:
            raise IdentityError(f"SES could not be reached: {exc}")

    def create(self, domain: str) -> list[str]:
        """Create the identity (or reuse it) and return its three DKIM tokens."""
        try:
            response = self._call("create_email_identity", EmailIdentity=domain)
        except IdentityError as exc:
            if "AlreadyExists" not in str(exc):
                raise
            response = self._call("get_email_identity", EmailIdentity=domain)
        return list(response.get("DkimAttributes", {}).get("Tokens") or [])

    def status(self, domain: str) -> IdentityStatus:
        try:
            response = self._call("get_email_identity", EmailIdentity=domain)
        except LookupError:
            return IdentityStatus(False, "MISSING", "SES has no identity for this domain any more.")
        dkim = response.get("DkimAttributes", {}).get("Status") or "PENDING"
        return IdentityStatus(bool(response.get("VerifiedForSendingStatus")), dkim)

    def delete(self, domain: str) -> None:
        try:
            self._call("delete_email_identity", EmailIdentity=domain)
        except LookupError:
            return
