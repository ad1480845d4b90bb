"""Admins, their sessions, workspaces, members, API tokens and the setup checklist."""
