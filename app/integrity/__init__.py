"""Data integrity: plausibility rules (疑点) that question reported figures, for review and accountability."""
