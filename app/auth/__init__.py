"""Accounts, roles, login and access decisions."""
