"""In-memory state of the fake: API keys, accounts (platform and connected), and one object
store per account and mode, each with its own event stream.

Objects are kept as plain dicts in their API shape. The same dict may be referenced from several
places (a subscription's `items.data` holds the subscription-item dicts) so an update shows up
everywhere; every answer and event is a deep copy, so nothing outside sees later changes.
"""

from __future__ import annotations

import contextvars
import copy
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from . import errors
from .clock import Clock, Ids
from .shapes_billing import event as event_shape

# Filled in by the server while it handles a request, so events can name the request that caused them.
CURRENT_REQUEST: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "fake_stripe_request", default=None
)

PLATFORM_SECRET_KEY = "sk_test_fakestripe_platform_0000000000000000"
PLATFORM_LIVE_KEY = "sk_live_fakestripe_platform_0000000000000000"
PLATFORM_PUBLISHABLE_KEY = "pk_test_fakestripe_platform_0000000000000000"
PLATFORM_ACCOUNT = "acct_1FakeStripePlatform"
PLATFORM_CLIENT_ID = "ca_FakeStripePlatformClient0001"


@dataclass
class Key:
    secret: str
    account: str
    livemode: bool
    kind: str  # "secret", "restricted" or "publishable"
    permissions: dict[str, str] | None = None  # resource -> "read" | "write"; None is full access
    revoked: bool = False


@dataclass
class ConnectedAccount:
    id: str
    platform: str
    object: dict[str, Any]
    authorized: bool = False
    scope: str = "read_write"


class Table:
    """Objects of one kind, listable newest first (by `created`, then by insertion)."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, Any]] = {}
        self._seq: dict[str, int] = {}
        self._next = 0
        self._order: list[str] | None = None

    def put(self, obj: dict[str, Any]) -> None:
        if obj["id"] not in self.rows:
            self._seq[obj["id"]] = self._next
            self._next += 1
        self.rows[obj["id"]] = obj
        self._order = None

    def remove(self, object_id: str) -> None:
        self.rows.pop(object_id, None)
        self._seq.pop(object_id, None)
        self._order = None

    def newest_first(self) -> list[str]:
        if self._order is None:
            self._order = sorted(
                self.rows, key=lambda i: (self.rows[i].get("created", 0), self._seq[i]), reverse=True
            )
        return self._order

    def __len__(self) -> int:
        return len(self.rows)


class Store:
    """Everything one account owns in one mode (test or live)."""

    def __init__(self, state: State, account: str, livemode: bool, connected: bool) -> None:
        self.state = state
        self.account = account
        self.livemode = livemode
        self.connected = connected
        self.tables: dict[str, Table] = {}
        self.by_id: dict[str, dict[str, Any]] = {}
        self.deleted: dict[str, str] = {}  # id -> object kind, for "deleted" stubs

    def table(self, kind: str) -> Table:
        if kind not in self.tables:
            self.tables[kind] = Table()
        return self.tables[kind]

    def put(self, obj: dict[str, Any]) -> dict[str, Any]:
        self.table(obj["object"]).put(obj)
        self.by_id[obj["id"]] = obj
        return obj

    def remove(self, obj: dict[str, Any], *, keep_stub: bool = True) -> None:
        self.table(obj["object"]).remove(obj["id"])
        self.by_id.pop(obj["id"], None)
        if keep_stub:
            self.deleted[obj["id"]] = obj["object"]

    def find(self, object_id: Any) -> dict[str, Any] | None:
        if not isinstance(object_id, str):
            return None
        return self.by_id.get(object_id)

    def get(self, kind: str, object_id: Any, param: str = "id") -> dict[str, Any]:
        obj = self.find(object_id)
        if obj is None or obj["object"] != kind:
            raise errors.no_such(kind, str(object_id), param)
        return obj

    def all(self, kind: str) -> Iterator[dict[str, Any]]:
        table = self.table(kind)
        for object_id in table.newest_first():
            yield table.rows[object_id]

    def new_id(self, prefix: str) -> str:
        return self.state.ids.new(prefix)

    def now(self) -> int:
        return self.state.clock.now()

    def emit(self, type_: str, obj: dict[str, Any], previous: dict[str, Any] | None = None) -> dict[str, Any]:
        """Record an event with a snapshot of `obj` (as it is now) and hand it to listeners."""
        from .render import render

        request = CURRENT_REQUEST.get() or {"id": None, "idempotency_key": None}
        ev = event_shape(
            self.new_id("evt"),
            self.now(),
            self.livemode,
            type_,
            render(self, obj),
            copy.deepcopy(previous) if previous is not None else None,
            {"id": request.get("id"), "idempotency_key": request.get("idempotency_key")},
            self.account if self.connected else None,
        )
        self.put(ev)
        for listener in list(self.state.event_listeners):
            listener(self, ev)
        return ev

    def events(self) -> list[dict[str, Any]]:
        return list(self.all("event"))


def snapshot(obj: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(obj)


def changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """`previous_attributes`: the old values of what changed; nested objects diff key by key."""
    previous: dict[str, Any] = {}
    for key in before.keys() | after.keys():
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        if isinstance(old, dict) and isinstance(new, dict) and old.get("object") != "list":
            previous[key] = changes(old, new)
        else:
            previous[key] = old
    return previous


@dataclass
class BillingSettings:
    """How the fake plays Stripe's automatic collection (Settings > Billing > Subscriptions)."""

    retry_days: list[int] = field(default_factory=lambda: [3, 5, 7])
    after_final_failure: str = "canceled"  # subscription status: "canceled", "unpaid" or "past_due"
    invoice_after_final_failure: str = "open"  # or "uncollectible"


class State:
    def __init__(self, seed: int | None = None) -> None:
        self.lock = threading.RLock()
        self.clock = Clock()
        self.ids = Ids(seed)
        self.keys: dict[str, Key] = {}
        self.stores: dict[tuple[str, bool], Store] = {}
        self.accounts: dict[str, ConnectedAccount] = {}
        self.platform_object = _platform_account(self)
        self.client_id = PLATFORM_CLIENT_ID
        self.oauth_codes: dict[str, dict[str, Any]] = {}
        self.refresh_tokens: dict[str, str] = {}
        self.oauth_keys: set[str] = set()
        self.idempotency: dict[tuple[str, bool, str], dict[str, Any]] = {}
        self.card_declines: dict[str, dict[str, Any]] = {}  # payment method id -> decline behaviour
        self.endpoint_secrets: dict[str, str] = {}
        self.endpoint_connect: dict[str, bool] = {}
        self.quiet: set[str] = set()
        self.trial_notices: set[tuple[str, int]] = (
            set()
        )  # subscriptions being created: no intermediate events
        self.billing = BillingSettings()
        self.event_listeners: list[Callable[[Store, dict[str, Any]], None]] = []
        self.add_key(PLATFORM_SECRET_KEY)
        self.add_key(PLATFORM_LIVE_KEY)
        self.add_key(PLATFORM_PUBLISHABLE_KEY)

    # --- keys and accounts -------------------------------------------------------------------

    def add_key(
        self,
        secret: str | None = None,
        *,
        permissions: dict[str, str] | None = None,
        account: str = PLATFORM_ACCOUNT,
        livemode: bool | None = None,
    ) -> str:
        """Register a key. `rk_…` keys take `permissions` like {"invoices": "read", "customers": "write"}."""
        if secret is None:
            mode = "live" if livemode else "test"
            secret = f"{'rk' if permissions is not None else 'sk'}_{mode}_{self.ids.token(32)}"
        kind = {"sk": "secret", "rk": "restricted", "pk": "publishable"}.get(secret[:2])
        if kind is None or secret[2] != "_":
            raise ValueError(f"a Stripe key starts with sk_, rk_ or pk_: {secret!r}")
        if kind == "restricted" and permissions is None:
            permissions = {}
        mode_live = "_live_" in secret[:8] if livemode is None else livemode
        normalised = None
        if permissions is not None:
            from .permissions import normalise

            normalised = normalise(permissions)
        self.keys[secret] = Key(secret, account, mode_live, kind, normalised)
        return secret

    def revoke_key(self, secret: str) -> None:
        self.keys[secret].revoked = True

    def store(self, account: str = PLATFORM_ACCOUNT, livemode: bool = False) -> Store:
        key = (account, livemode)
        if key not in self.stores:
            self.stores[key] = Store(self, account, livemode, connected=account != PLATFORM_ACCOUNT)
        return self.stores[key]

    def account_object(self, account: str) -> dict[str, Any]:
        if account == PLATFORM_ACCOUNT:
            return self.platform_object
        return self.accounts[account].object

    def create_connected_account(
        self, *, email: str | None = None, name: str | None = None, account_id: str | None = None
    ) -> str:
        from .shapes_account import account as account_shape

        acct = account_id or self.ids.new("acct", 16)
        self.accounts[acct] = ConnectedAccount(
            acct, PLATFORM_ACCOUNT, account_shape(acct, self.clock.now(), email, name)
        )
        return acct


def _platform_account(state: State) -> dict[str, Any]:
    from .shapes_account import account as account_shape

    return account_shape(PLATFORM_ACCOUNT, state.clock.now(), "founder@example.com", "Fake Stripe Platform")
