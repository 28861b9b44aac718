"""Audit log (审计日志): append-only, hash-chained records of every change to domain data."""
