"""The `make demo` scenario."""
