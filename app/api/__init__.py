"""The JSON API under /api/v1 for the systems around the app, with per-user bearer tokens."""
