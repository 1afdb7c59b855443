"""Azure I/O: Blob Storage."""
