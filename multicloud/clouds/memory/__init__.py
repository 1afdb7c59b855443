"""In-process object store for tests and dry runs."""
