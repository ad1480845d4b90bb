"""Outbound webhooks: endpoints a workspace registers, the local event log, signed deliveries."""
