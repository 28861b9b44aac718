"""Policy task accountability system (Flask package)."""
