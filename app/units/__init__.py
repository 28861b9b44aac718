"""Units (departments, league/city governments), unit groups and liaison officers."""
