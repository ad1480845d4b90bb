"""A stateful, Stripe-compatible HTTP server for the test suite (and for trying Backstop by hand)."""
