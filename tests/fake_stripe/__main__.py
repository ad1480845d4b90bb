"""Run the fake by hand: `python -m tests.fake_stripe --port 12111`."""

from __future__ import annotations

import argparse
import threading

from .server import FakeStripe


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.fake_stripe", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=12111, help="port (0 picks a free one)")
    parser.add_argument("--seed", type=int, default=None, help="make generated ids reproducible")
    parser.add_argument("--webhook-url", help="deliver every event to this URL as it happens")
    parser.add_argument("--webhook-secret", help="signing secret for --webhook-url (default: generated)")
    args = parser.parse_args(argv)

    fake = FakeStripe(args.host, args.port, seed=args.seed).start()
    print(f"Fake Stripe listening on {fake.url}")
    print(f"  secret key:      {fake.secret_key}")
    print(f"  publishable key: {fake.publishable_key}")
    print(f"  Connect client:  {fake.client_id}")
    print(f"  point Backstop at it: BACKSTOP_STRIPE_API_BASE={fake.url}")
    if args.webhook_url:
        _, secret = fake.add_webhook_endpoint(args.webhook_url, secret=args.webhook_secret)
        fake.webhooks.auto = True
        print(f"  delivering events to {args.webhook_url} signed with {secret}")
    print("Ctrl-C to stop.", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()


if __name__ == "__main__":
    main()
