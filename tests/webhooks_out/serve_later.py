"""``backstop serve`` with its clock moved forward, for the kill -9 test: the restarted server
believes a dead worker's lease has run out, as it would after waiting.

    python -m tests.webhooks_out.serve_later SECONDS
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta

import time_machine

from backstop.cli import main

if __name__ == "__main__":
    ahead = timedelta(seconds=float(sys.argv[1]))
    with time_machine.travel(datetime.now(UTC) + ahead, tick=True):
        main(["serve"])
