"""Background work: Huey tasks that run inside the server process and call domain functions."""
