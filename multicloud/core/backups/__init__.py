"""Pure backup logic: the restic retention policy, the chunker polynomial and the restic v2 JSON and
binary layouts (trees, snapshots, index, pack headers), with no I/O."""
