"""Verification and accountability cases (核查 / 问责) on suspect figures."""
