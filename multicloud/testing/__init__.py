"""Sample data, site stand-ins and setup shared by tests, the demo and the benchmarks; not part of the wheel."""
