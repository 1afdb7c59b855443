"""Plain HTTP I/O: health probes and applications' admin endpoints."""
