"""Reminders: working-day calendar, reporting deadlines, escalation ladder and traffic lights."""
