"""The restic repository format (version 2) over any ObjectStore: create or open a repository,
write deduplicated, compressed, encrypted snapshots, and read and restore them, restic's own included."""

from multicloud.engine.restic.crypto import KdfParams
from multicloud.engine.restic.errors import (
    CorruptData, NotARepository, RepositoryLocked, UnsupportedVersion, WrongPassword,
)
from multicloud.engine.restic.folder import add_folder
from multicloud.engine.restic.reader import RestoreStats, SnapshotReader
from multicloud.engine.restic.repository import BlobIndex, Repository
from multicloud.engine.restic.writer import SnapshotWriter, WriteStats

__all__ = [
    "BlobIndex", "CorruptData", "KdfParams", "NotARepository", "Repository", "RepositoryLocked", "RestoreStats",
    "SnapshotReader", "SnapshotWriter", "UnsupportedVersion", "WriteStats", "WrongPassword", "add_folder",
]
