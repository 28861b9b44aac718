"""Progress reports, their figures and the report workflow."""
