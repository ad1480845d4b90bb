"""The Stripe connection, the account mirror and the events that keep it current."""
