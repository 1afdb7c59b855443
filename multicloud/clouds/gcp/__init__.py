"""Google Cloud I/O: Cloud Storage."""
