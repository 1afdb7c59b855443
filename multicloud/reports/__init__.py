"""Charts and rendered reports."""
