"""Briefs (简报): the monthly brief, the quarterly analysis and the annual evaluation score sheet
as Word documents, each stored with the exact figures it was made from."""
