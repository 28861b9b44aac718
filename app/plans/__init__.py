"""Plans, sections, tasks, indicators, reporting periods and assignments."""
