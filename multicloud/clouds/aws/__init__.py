"""AWS I/O: S3 (and, later, the other AWS services the flows need)."""
