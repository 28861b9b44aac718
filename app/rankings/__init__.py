"""Lagging-units ranking: a versioned formula in workflows/ranking.yaml, computed from the data,
published with the version and inputs it used so it can be recomputed later."""
