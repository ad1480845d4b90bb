"""Pytest fixtures for the fake Stripe server."""
