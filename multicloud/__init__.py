"""multicloud: the library behind the multicloud-ops Prefect pipelines."""
