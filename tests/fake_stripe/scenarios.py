"""Helpers tests call directly on the fake (no HTTP): seed objects, set up stories, move time.

Every helper takes `account=` (a connected account id; default the platform) and `livemode=`.
They return plain dicts in API shape (copies; re-read with `fake.get(id)` after later changes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import engine
from .resources import catalog, connect, customers, payment_methods, subscriptions
from .resources import events as event_resources
from .resources.lifecycle import default_payment_method_for, renew
from .state import (
    PLATFORM_ACCOUNT,
    PLATFORM_CLIENT_ID,
    PLATFORM_LIVE_KEY,
    PLATFORM_PUBLISHABLE_KEY,
    PLATFORM_SECRET_KEY,
    State,
    Store,
    snapshot,
)


@dataclass
class CustomerStory:
    customer: dict[str, Any]
    payment_method: dict[str, Any]
    subscription: dict[str, Any]
    price: dict[str, Any]


class Helpers:
    state: State
    url: str

    secret_key = PLATFORM_SECRET_KEY
    live_secret_key = PLATFORM_LIVE_KEY
    publishable_key = PLATFORM_PUBLISHABLE_KEY
    platform_account = PLATFORM_ACCOUNT
    client_id = PLATFORM_CLIENT_ID

    # --- plumbing ------------------------------------------------------------------------------

    def store(self, account: str | None = None, livemode: bool = False) -> Store:
        return self.state.store(account or PLATFORM_ACCOUNT, livemode)

    @property
    def clock(self):
        return self.state.clock

    def client(
        self, key: str | None = None, *, account: str | None = None, max_network_retries: int = 0, **kw: Any
    ):
        """A real `stripe.StripeClient` aimed at this server."""
        import stripe

        return stripe.StripeClient(
            key or self.secret_key,
            stripe_account=account,
            base_addresses={"api": self.url, "connect": self.url, "files": self.url},
            max_network_retries=max_network_retries,
            **kw,
        )

    def add_key(
        self,
        secret: str | None = None,
        *,
        permissions: dict[str, str] | None = None,
        account: str | None = None,
        livemode: bool | None = None,
    ) -> str:
        """Register an API key (`rk_…` with `permissions={"invoices": "read", …}` for a restricted key)."""
        with self.state.lock:
            return self.state.add_key(
                secret, permissions=permissions, account=account or PLATFORM_ACCOUNT, livemode=livemode
            )

    def revoke_key(self, secret: str) -> None:
        with self.state.lock:
            self.state.revoke_key(secret)

    def get(self, object_id: str, *, account: str | None = None, livemode: bool = False) -> dict[str, Any]:
        with self.state.lock:
            obj = self.store(account, livemode).find(object_id)
            if obj is None:
                raise KeyError(object_id)
            return snapshot(obj)

    def events(
        self, type: str | None = None, *, account: str | None = None, livemode: bool = False
    ) -> list[dict[str, Any]]:
        """Recorded events, newest first (optionally of one type)."""
        with self.state.lock:
            found = self.store(account, livemode).events()
            return [snapshot(e) for e in found if type is None or e["type"] == type]

    # --- objects -------------------------------------------------------------------------------

    def create_customer(self, *, account: str | None = None, livemode: bool = False, **params: Any) -> dict:
        with self.state.lock:
            return snapshot(customers.create_customer(self.store(account, livemode), params))

    def create_price(
        self,
        unit_amount: int = 2000,
        currency: str = "usd",
        interval: str | None = "month",
        *,
        product_name: str = "Pro plan",
        account: str | None = None,
        livemode: bool = False,
        **params: Any,
    ) -> dict:
        recurring = {"interval": interval} if interval else None
        with self.state.lock:
            return snapshot(
                catalog.create_price(
                    self.store(account, livemode),
                    {
                        "unit_amount": unit_amount,
                        "currency": currency,
                        "recurring": recurring,
                        "product_data": {"name": product_name},
                        **params,
                    },
                )
            )

    def create_coupon(self, *, account: str | None = None, livemode: bool = False, **params: Any) -> dict:
        with self.state.lock:
            return snapshot(catalog.create_coupon(self.store(account, livemode), params))

    def make_card(
        self,
        customer: str | None = None,
        *,
        account: str | None = None,
        livemode: bool = False,
        **options: Any,
    ) -> dict:
        """A card; `decline_code="insufficient_funds"` makes its charges decline (see `make_card` options)."""
        with self.state.lock:
            return snapshot(
                payment_methods.make_card(self.store(account, livemode), customer=customer, **options)
            )

    def set_card_decline(
        self,
        pm_id: str,
        decline_code: str | None,
        *,
        advice_code: str | None = None,
        account: str | None = None,
        livemode: bool = False,
    ) -> None:
        """From now on charges to this card decline with `decline_code` (None: they succeed)."""
        with self.state.lock:
            payment_methods.set_card_decline(self.store(account, livemode), pm_id, decline_code, advice_code)

    def create_subscription(
        self, customer: str, price: str, *, account: str | None = None, livemode: bool = False, **params: Any
    ) -> dict:
        """Same rules as `POST /v1/subscriptions` (first invoice, payment, events)."""
        with self.state.lock:
            store = self.store(account, livemode)
            spec = {"customer": customer, "items": [{"price": price}], **params}
            return snapshot(subscriptions.create_subscription(store, spec))

    def complete_setup_intent(
        self,
        setup_intent: str,
        card: str = "pm_card_visa",
        *,
        account: str | None = None,
        livemode: bool = False,
    ) -> dict:
        """What the customer's browser does with Stripe.js: confirm the setup intent with a card."""
        with self.state.lock:
            store = self.store(account, livemode)
            seti = store.get("setup_intent", setup_intent)
            return snapshot(payment_methods.confirm_setup_intent(store, seti, {"payment_method": card}))

    def add_webhook_endpoint(
        self,
        url: str,
        events: tuple[str, ...] = ("*",),
        *,
        connect: bool = False,
        secret: str | None = None,
        livemode: bool = False,
    ) -> tuple[dict, str]:
        """Register a platform webhook endpoint; returns (endpoint, signing secret)."""
        with self.state.lock:
            we, signing = event_resources.create_endpoint(
                self.store(None, livemode), url, list(events), connect=connect, secret=secret
            )
            return snapshot(we), signing

    def add_portal_configuration(
        self, *, cancel_enabled: bool = True, account: str | None = None, livemode: bool = False
    ) -> dict:
        features = {"subscription_cancel": {"enabled": cancel_enabled}}
        with self.state.lock:
            return snapshot(
                event_resources.create_portal_configuration(
                    self.store(account, livemode), {"features": features}
                )
            )

    def seed_customers(
        self,
        count: int,
        *,
        price: str | None = None,
        account: str | None = None,
        livemode: bool = False,
        spread_days: float = 0,
    ) -> list[str]:
        """Many customers quickly (for backfill tests); with `price`, each gets a card and a subscription.
        With `spread_days`, they were created evenly over that many days up to now (oldest first)."""
        ids = []
        with self.state.lock:
            store = self.store(account, livemode)
            now = store.now()
            for n in range(count):
                created = now - int(spread_days * 86400 * (count - 1 - n) / count) if spread_days else None
                cus = customers.create_customer(
                    store, {"email": f"customer{n}@example.com", "name": f"Customer {n}"}, created=created
                )
                if price:
                    payment_methods.make_card(store, customer=cus["id"], default=True)
                    subscriptions.create_subscription(
                        store, {"customer": cus["id"], "items": [{"price": price}]}
                    )
                ids.append(cus["id"])
        return ids

    # --- stories -------------------------------------------------------------------------------

    def customer_with_declining_card(
        self,
        decline_code: str = "insufficient_funds",
        *,
        email: str = "dana@example.com",
        name: str = "Dana Declined",
        unit_amount: int = 2000,
        currency: str = "usd",
        interval: str = "month",
        account: str | None = None,
        livemode: bool = False,
    ) -> CustomerStory:
        """A customer with an active monthly subscription (first invoice paid) whose default card now
        declines with `decline_code`: the next charge (e.g. `renewal_fails`) will fail."""
        with self.state.lock:
            store = self.store(account, livemode)
            p = catalog.create_price(
                store,
                {
                    "unit_amount": unit_amount,
                    "currency": currency,
                    "recurring": {"interval": interval},
                    "product_data": {"name": "Pro plan"},
                },
            )
            cus = customers.create_customer(store, {"email": email, "name": name})
            pm = payment_methods.make_card(store, customer=cus["id"], default=True)
            sub = subscriptions.create_subscription(
                store, {"customer": cus["id"], "items": [{"price": p["id"]}]}
            )
            payment_methods.set_card_decline(store, pm["id"], decline_code)
            return CustomerStory(snapshot(cus), snapshot(pm), snapshot(sub), snapshot(p))

    def renewal_fails(
        self,
        subscription: str,
        decline_code: str | None = None,
        *,
        account: str | None = None,
        livemode: bool = False,
    ) -> dict:
        """Renew the subscription now and have the charge decline (with `decline_code`, or the card's own).
        Leaves the renewal invoice open, the subscription past_due, and the events Stripe would send."""
        with self.state.lock:
            store = self.store(account, livemode)
            sub = store.get("subscription", subscription)
            pm_id = default_payment_method_for(store, sub)
            if decline_code is not None and pm_id:
                payment_methods.set_card_decline(store, pm_id, decline_code)
            elif pm_id and pm_id not in self.state.card_declines:
                payment_methods.set_card_decline(store, pm_id, "generic_decline")
            return snapshot(renew(store, sub) or {})

    def renewal_succeeds(
        self, subscription: str, *, account: str | None = None, livemode: bool = False
    ) -> dict:
        """Renew the subscription now with a card that pays."""
        with self.state.lock:
            store = self.store(account, livemode)
            sub = store.get("subscription", subscription)
            pm_id = default_payment_method_for(store, sub)
            if pm_id:
                payment_methods.set_card_decline(store, pm_id, None)
            return snapshot(renew(store, sub) or {})

    def advance(self, seconds: float = 0, *, days: float = 0) -> int:
        """Move Stripe's clock forward, running renewals, retries and trial ends that fall due."""
        return engine.advance(self.state, seconds, days=days)

    # --- Connect -------------------------------------------------------------------------------

    def connect_account(self, *, email: str | None = None, name: str | None = None) -> str:
        """A connected account that has authorized the platform (no OAuth round trip)."""
        with self.state.lock:
            acct = self.state.create_connected_account(email=email, name=name)
            self.state.accounts[acct].authorized = True
            return acct

    def oauth_code(
        self, account: str | None = None, *, scope: str = "read_write", email: str | None = None
    ) -> str:
        """An authorization code as Stripe's OAuth page would hand back (for `POST /oauth/token`)."""
        with self.state.lock:
            return connect.authorization_code(self.state, account, scope=scope, email=email)[0]

    def deauthorize(self, account: str, *, livemode: bool = False) -> None:
        """The founder disconnects the platform from their Stripe dashboard."""
        with self.state.lock:
            connect.deauthorize(self.state, account, livemode)
