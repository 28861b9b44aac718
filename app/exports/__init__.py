"""Streamed Excel (xlsx) and CSV exports of the matrix, a period's figures, the overdue list and
the ranking, with Chinese headers."""
