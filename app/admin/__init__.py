"""Administration: units, unit groups, users and liaison officers."""
