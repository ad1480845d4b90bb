"""The embedded default: messages stay in the database and are shown in the admin."""

from __future__ import annotations

import uuid

from backstop.connectors.ses import OutgoingEmail


class OutboxMailer:
    name = "outbox"

    def send(self, mail: OutgoingEmail) -> str:
        # The message row is the outbox; there is nothing to hand over.
        return f"outbox-{uuid.uuid4().hex}"
