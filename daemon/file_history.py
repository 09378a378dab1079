"""What every watched file held over time: enough to rebuild, for any node, the files it last passed with.

The engine tells the history each time it reads a file (a save, or the seed at start) and each
time a node passes. The counterfactual reruns of causal blame then ask :meth:`FileHistory.baseline`:
"for this failing node, which files differ from the versions it last passed with, and what did
they hold then?".

Versions are kept compressed and only as long as some node's last pass needs them, so a storm of
saves costs the versions that were current when something passed, not one per save.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

#: Files larger than this are tracked by digest only: their old content cannot be restored.
MAX_KEPT_BYTES = 16 * 1024 * 1024

ABSENT = ""  # the digest of a file that does not exist


def digest_of(data: bytes | None) -> str:
    return ABSENT if data is None else hashlib.blake2b(data, digest_size=16).hexdigest()


@dataclass
class _Versions:
    """A file's digests in order, each with the generation at which it became current."""

    entries: list[tuple[int, str]] = field(default_factory=list)

    def at(self, generation: int) -> str | None:
        """The digest current at ``generation`` (None when the file was not tracked yet)."""
        found = None
        for since, digest in self.entries:
            if since > generation:
                break
            found = digest
        return found


class FileHistory:
    def __init__(self, read: Callable[[str], bytes | None]) -> None:
        self._read = read
        self.generation = 0
        self.digests: dict[str, str] = {}  # path → current digest (ABSENT when deleted)
        self._versions: dict[str, _Versions] = {}
        self._blobs: dict[str, bytes] = {}  # digest → zlib-compressed content
        self._passed_at: dict[str, int] = {}  # node → generation of its last pass

    # ------------------------------------------------------------------ files
    def seed(self, paths: Iterable[str]) -> None:
        """Take the first version of every watched file (the daemon's start)."""
        for path in paths:
            self._record(path, self._read(path))

    def update(self, path: str) -> bool:
        """Read ``path`` now; True when its content differs from the version last recorded."""
        return self._record(path, self._read(path))

    def _record(self, path: str, data: bytes | None) -> bool:
        digest = digest_of(data)
        if self.digests.get(path) == digest:
            return False
        self.generation += 1
        self.digests[path] = digest
        self._versions.setdefault(path, _Versions()).entries.append((self.generation, digest))
        if data is not None and len(data) <= MAX_KEPT_BYTES and digest not in self._blobs:
            self._blobs[digest] = zlib.compress(data, 1)
        return True

    def content(self, digest: str) -> bytes | None:
        """The content a digest stands for (None for an absent file, or one too large to keep)."""
        blob = self._blobs.get(digest)
        return zlib.decompress(blob) if blob is not None else None

    def previous(self, path: str) -> bytes | None:
        """The file's content before its last change, when that version is still kept."""
        entries = self._versions.get(path)
        if not entries or len(entries.entries) < 2:
            return None
        digest = entries.entries[-2][1]
        return self.content(digest) if digest != ABSENT else None

    def known(self, digest: str) -> bool:
        return digest == ABSENT or digest in self._blobs

    # ------------------------------------------------------------------ nodes
    def passed(self, node_ids: Iterable[str], generation: int) -> None:
        """These nodes passed on the files as they were at ``generation`` (the run's start)."""
        for node_id in node_ids:
            self._passed_at[node_id] = generation
        self.prune()

    def forget(self, node_id: str) -> None:
        self._passed_at.pop(node_id, None)

    def has_passed(self, node_id: str) -> bool:
        return node_id in self._passed_at

    def changed_since_pass(self, node_id: str) -> set[str]:
        """The files whose content differs from the version this node last passed with."""
        generation = self._passed_at.get(node_id)
        if generation is None:
            return set()
        changed = set()
        for path, versions in self._versions.items():
            then = versions.at(generation)
            if then is not None and then != self.digests.get(path):
                changed.add(path)
            elif then is None and self.digests.get(path, ABSENT) != ABSENT:
                changed.add(path)  # created since the node passed
        return changed

    def baseline(self, node_id: str) -> dict[str, str] | None:
        """For each file changed since the node last passed, the digest it had then.

        None when the node never passed in this session (no history to revert to).
        """
        generation = self._passed_at.get(node_id)
        if generation is None:
            return None
        return {
            path: (self._versions[path].at(generation) or ABSENT) for path in self.changed_since_pass(node_id)
        }

    # ------------------------------------------------------------------ memory
    def prune(self) -> None:
        """Drop versions no node's last pass needs (and the content only they held)."""
        passes = sorted(set(self._passed_at.values()))
        needed: set[str] = set(self.digests.values())
        for versions in self._versions.values():
            entries = versions.entries
            keep = []
            for i, (since, digest) in enumerate(entries):
                until = entries[i + 1][0] if i + 1 < len(entries) else None
                current = until is None
                used = any(since <= g and (until is None or g < until) for g in passes)
                if current or used:
                    keep.append((since, digest))
                    needed.add(digest)
            versions.entries = keep
        for digest in list(self._blobs):
            if digest not in needed:
                del self._blobs[digest]

    def kept_bytes(self) -> int:
        return sum(len(b) for b in self._blobs.values())
