"""Cloud-agnostic I/O over ObjectStore: the sync engine, tabular readers, the FOCUS dataset, the journal, cost ingest."""
