"""Local HTTP servers that answer the real SDK requests of services without an emulator (port 0)."""
