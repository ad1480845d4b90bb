"""Backstop: a self-hosted retention appliance for founders who bill with Stripe."""

__version__ = "0.1.0"
