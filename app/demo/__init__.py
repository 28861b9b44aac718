"""Demo data and synthetic national-scale data."""
