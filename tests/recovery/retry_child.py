"""Run one recovery step in its own process, as a worker would, for the kill -9 test.

    python -m tests.recovery.retry_child DATA_DIR SECRET_KEY STRIPE_URL STEP_ID AT MODE

AT is the ISO time the worker believes it is (the step is due then). MODE "in_flight" just runs
the step (the test kills this process while Stripe is still answering); "after_answer" kills
itself the moment Stripe's answer to the charge arrives, before Backstop can record it.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import time_machine

from backstop import clock
from backstop.db import connect
from backstop.lib.crypto import SecretBox
from backstop.recovery import steps
from backstop.settings import Settings
from backstop.stripe_sync import connection


class DiesAfterTheCharge:
    """A gateway that is killed the instant the charge request has answered."""

    def __init__(self, gateway) -> None:
        self._gateway = gateway

    def post(self, path, *args, **kwargs):
        answer = self._gateway.post(path, *args, **kwargs)
        if path.endswith("/pay"):
            os.kill(os.getpid(), signal.SIGKILL)
        return answer

    def __getattr__(self, name):
        return getattr(self._gateway, name)


def main(data_dir: str, secret_key: str, stripe_url: str, step_id: str, at: str, mode: str) -> None:
    settings = Settings(
        data_dir=Path(data_dir),
        secret_key=secret_key,
        stripe_api_base=stripe_url,
        stripe_connect_base=stripe_url,
    )
    db = connect(settings.db_path)
    box = SecretBox(secret_key)

    def gateway_for(workspace_id: int):
        gateway = connection.gateway(db, box, settings, workspace_id)
        return DiesAfterTheCharge(gateway) if mode == "after_answer" else gateway

    with time_machine.travel(clock.parse(at), tick=True):
        print("running", flush=True)
        outcome = steps.run_step(db, int(step_id), settings=settings, gateway_for=gateway_for)
    print(f"finished: {outcome}", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
