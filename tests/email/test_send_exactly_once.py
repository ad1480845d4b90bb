"""With the SES transport, a queued dunning email reaches SES exactly once, even when the process
sending it is killed (SIGKILL) and the work is picked up again by the sweeper."""

# ruff: noqa: F401, F811 - fixtures imported from tests.email.fixtures are used as parameters
from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import timedelta

import pytest
import time_machine

import jobs.email
from backstop import clock
from backstop.db import one
from backstop.email.kinds import KINDS
from backstop.email.messages import queue_email
from backstop.settings import Settings
from jobs import queue
from jobs.sweeper import sweep_once
from tests.conftest import ROOT, free_port
from tests.email.fixtures import (
    SHARED_SENDER,
    aws_env,
    env_without_backstop,
    moto_server,
    moto_server_process,
)

# The child process sends message ``ID`` with the real task; ``CRASH`` says where it dies.
CHILD = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from backstop.settings import Settings
    from backstop.connectors.ses.ses import SesMailer
    from backstop.email import sending
    from jobs import queue

    data_dir, message_id, crash = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]

    def die():
        os.kill(os.getpid(), signal.SIGKILL)

    if crash == "after-ses-accepted":
        real_send = SesMailer.send
        def send(self, mail):
            real_send(self, mail)
            die()
        SesMailer.send = send
    elif crash == "before-hand-over":
        sending.build_mime = lambda *args, **kwargs: die()

    settings = Settings(data_dir=data_dir, secret_key="t" * 48, email_transport="ses",
                        shared_sender=os.environ["SHARED_SENDER"])
    queue.configure(settings, immediate=True)
    import jobs.email
    print(jobs.email.send_message(message_id)())
    """
)


@pytest.fixture
def settings(data_dir):
    return Settings(
        data_dir=data_dir,
        secret_key="t" * 48,
        port=free_port(),
        email_transport="ses",
        shared_sender=SHARED_SENDER,
    )


@pytest.fixture
def dunning(db, settings, acme):
    queued = queue_email(
        db,
        settings,
        workspace_id=acme.id,
        kind="dunning_2",
        to_email="sam@customer.test",
        to_name="Sam Doe",
        context=KINDS["dunning_2"].sample,
        dedupe_key="dunning:in_1:step:2",
    )
    return queued.id


def run_child(settings: Settings, message_id: int, crash: str, moto) -> subprocess.CompletedProcess:
    env = {
        **env_without_backstop(),
        "SHARED_SENDER": SHARED_SENDER,
        "AWS_ENDPOINT_URL_SES": moto.url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    return subprocess.run(
        [sys.executable, "-c", CHILD, str(settings.data_dir), str(message_id), crash],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def rerun_after_lease(settings: Settings) -> dict:
    """What the server does a few minutes later: the sweeper finds the lapsed lease and re-runs."""
    queue.configure(settings, immediate=True)
    with time_machine.travel(clock.now() + timedelta(minutes=6), tick=False):
        return sweep_once()


def test_it_sends_a_dunning_email_once_through_the_queue(moto_server, settings, db, dunning):
    result = run_child(settings, dunning, "none", moto_server)
    assert result.stdout.strip() == "sent", result.stderr
    sent = moto_server.sent()
    assert len(sent) == 1
    assert sent[0]["source"] == SHARED_SENDER
    assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click" in sent[0]["raw_data"]
    assert "Subject: Reminder: please update your card for Acme Analytics" in sent[0]["raw_data"]
    row = one(db, "SELECT status, provider_message_id FROM email_messages WHERE id = ?", [dunning])
    assert row["status"] == "sent" and row["provider_message_id"]
    assert rerun_after_lease(settings) == {}
    assert len(moto_server.sent()) == 1


def test_killed_after_ses_took_it_the_rerun_does_not_send_it_again(moto_server, settings, db, dunning):
    result = run_child(settings, dunning, "after-ses-accepted", moto_server)
    assert result.returncode == -9
    assert len(moto_server.sent()) == 1

    assert rerun_after_lease(settings) == {"email_messages": 1}
    assert len(moto_server.sent()) == 1
    row = one(db, "SELECT status, status_reason FROM email_messages WHERE id = ?", [dunning])
    assert row["status"] == "failed"
    assert "it may have been delivered" in row["status_reason"]
    assert "Send it again if the customer didn't get it" in row["status_reason"]


def test_killed_before_the_hand_over_the_rerun_sends_it(moto_server, settings, db, dunning):
    result = run_child(settings, dunning, "before-hand-over", moto_server)
    assert result.returncode == -9
    assert moto_server.sent() == []

    # Within the lease nothing is retried: the first run may still be working.
    queue.configure(settings, immediate=True)
    assert sweep_once() == {}
    assert rerun_after_lease(settings) == {"email_messages": 1}
    assert len(moto_server.sent()) == 1
    assert one(db, "SELECT status FROM email_messages WHERE id = ?", [dunning])["status"] == "sent"
    assert rerun_after_lease(settings) == {}
    assert len(moto_server.sent()) == 1


def test_queuing_the_same_cause_twice_keeps_one_message(moto_server, settings, db, acme, dunning):
    again = queue_email(
        db, settings, workspace_id=acme.id, kind="dunning_2", to_email="sam@customer.test",
        context=KINDS["dunning_2"].sample, dedupe_key="dunning:in_1:step:2",
    )  # fmt: skip
    assert again.id == dunning and not again.created
    run_child(settings, dunning, "none", moto_server)
    assert rerun_after_lease(settings) == {}
    assert len(moto_server.sent()) == 1
