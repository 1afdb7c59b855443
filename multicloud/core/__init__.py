"""Pure logic: no SDK, no Prefect, no network, no clock."""
