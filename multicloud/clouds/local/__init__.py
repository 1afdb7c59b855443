"""Local-directory I/O: a folder as an object store, for tests, restores and air-gapped copies."""
