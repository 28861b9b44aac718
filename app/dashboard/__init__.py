"""The plan dashboard: indicator totals against target and pace, the matrix in traffic-light
colours, counts of overdue, escalated and flagged items, and the trend over the periods."""
