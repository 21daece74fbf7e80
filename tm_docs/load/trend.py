"""Every version of a model file in git, each loaded and analysed once.

The commits that changed a model file, with the object id of each version,
come from the history read once (`History.revisions`).  The versions that have
not been analysed yet are read in one `git cat-file --batch` run and loaded by
the same YAML reading (key by key where only some keys changed: `VersionReader`)
and validation as the working tree; a version with the bytes of a file the caller
has loaded is that loaded model, not read or validated again.  What the
caller computes from a version is kept by its object id (and what the result
depends on, the caller's `fingerprint`): in memory, so a `mkdocs serve` rebuild
analyses only new versions, and optionally in the project's cache folder.  The cache folder is
untrusted like everything a pull request can reach, and a point read from it is published
as it is (a chart of risks no version held): an entry is used only when it carries the
signature of the user's key (`SignedCache`) and the caller's `decode` accepts it, and is
computed again otherwise.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from .cache import CacheRefused
from .history import Revision
from .models import LoadedModel, validate_document
from .revisions import read_blobs
from .signed import SignedCache, open_signed_cache
from .yaml_source import VersionReader, decode_document

T = TypeVar("T")

CACHE_KIND = "trend"
MAX_ENTRY_BYTES = 16_384
MAX_REASON_CHARS = 300


@dataclass(frozen=True)
class Unloadable:
    """A version of a model file that did not load: a gap in its trend, with the reason."""

    reason: str


@dataclass
class Stats:
    analysed: int = 0  # versions read, validated and analysed here
    from_build: int = 0  # versions that are a model file the caller loaded (`loaded`)
    from_memory: int = 0
    from_disk: int = 0
    rejected: int = 0  # cache entries that failed the check and were computed again


def open_trend_cache(root: Path, cache_dir: str) -> SignedCache | CacheRefused | None:
    """The signed cache of trend results; why the folder is not used; or None (no user key:
    results are then kept in memory only)."""
    return open_signed_cache(root, cache_dir, CACHE_KIND, max_bytes=MAX_ENTRY_BYTES)


@dataclass
class VersionAnalyser(Generic[T]):
    """Analyses versions of model files by object id, each once.

    `encode` and `decode` turn results into JSON data and back for the disk
    cache (`decode` returns None for data it does not accept).
    """

    encode: Callable[[T], Any]
    decode: Callable[[Any], T | None]
    cache: SignedCache | None = None
    stats: Stats = field(default_factory=Stats)
    _memory: dict[str, T | Unloadable] = field(default_factory=dict)
    _used: set[str] = field(default_factory=set)

    def results(
        self,
        root: Path,
        revisions: Iterable[Revision],
        fingerprint: str,
        analyse: Callable[[LoadedModel, Mapping[str, Any] | None], T],
        loaded: Mapping[str, LoadedModel] | None = None,
    ) -> dict[str, T | Unloadable]:
        """Object id -> result, for the versions of `revisions` that have content.

        `analyse` computes the result of one loaded version from its model alone and the
        plain data it was validated from (it gets no source map, and versions with the
        same data share one result);
        `fingerprint` names everything else the result depends on (a new one makes
        every result new).
        `loaded`: the models the caller has loaded, by `LoadedModel.digest` (the hash of
        the file's bytes): a version with the same bytes is that model, given to
        `analyse` as it is (not validated again), so that the caller can recognise it;
        its data is read only when another version of the same path is analysed here
        (which may share parts of it), else `analyse` gets None for the data.

        GitError when git cannot read the objects (the caller says the trend is unknown).
        """
        self.stats = Stats()
        wanted: dict[str, Revision] = {}
        for revision in revisions:
            if revision.blob is not None:
                wanted.setdefault(revision.blob, revision)
        found: dict[str, T | Unloadable] = {}
        missing: list[str] = []
        keys: dict[str, str] = {}
        for blob in wanted:
            key = keys[blob] = _key(fingerprint, blob)
            self._used.add(key)
            if key in self._memory:
                found[blob] = self._memory[key]
                self.stats.from_memory += 1
                continue
            cached = self._from_disk(key)
            if cached is not None:
                found[blob] = self._memory[key] = cached
                self.stats.from_disk += 1
                continue
            missing.append(blob)
        if missing:
            same: dict[bytes, T] = {}  # results by the versions' data (see `_analysed`)
            paths: dict[str, Path] = {}
            reader = VersionReader()
            others = Counter(wanted[blob].path for blob in missing)
            contents = zip(missing, read_blobs(root, missing), strict=True)
            # Newest first: each model's versions come together, oldest first, and the
            # newest is most often the file the caller loaded; the reader rereads only
            # what changed from the version before, and `analyse` may reuse parts of it.
            for blob, data in reversed(list(contents)):
                revision = wanted[blob]
                known = (loaded or {}).get(hashlib.sha256(data).hexdigest()) if data else None
                if known is not None and others[revision.path] == 1:
                    result: T | Unloadable = analyse(known, None)  # no other version to help
                else:
                    result = self._analysed(data, revision, analyse, same, paths, reader, known)
                key = keys[blob]
                found[blob] = self._memory[key] = result
                if known is not None and not isinstance(result, Unloadable):
                    self.stats.from_build += 1
                else:
                    self.stats.analysed += 1
                self._to_disk(key, result)
        return found

    def prune(self) -> int:
        """Forget what the last runs did not ask for (memory and disk); entries removed."""
        for key in [k for k in self._memory if k not in self._used]:
            del self._memory[key]
        removed = self.cache.prune(self._used) if self.cache is not None else 0
        self._used = set()
        return removed

    def _analysed(
        self,
        data: bytes | None,
        revision: Revision,
        analyse: Callable[[LoadedModel, Mapping[str, Any] | None], T],
        same: dict[bytes, T],
        paths: dict[str, Path],
        reader: VersionReader,
        known: LoadedModel | None = None,
    ) -> T | Unloadable:
        """The result of one version.  Versions with the same data (say, one that changed
        only a comment) share one result, which `analyse` computes from the model alone.
        A version that does not load is a gap that names its first problem, exactly as
        `tm-docs check` would.  `known`: the model the caller loaded from these very
        bytes, which is not validated again."""
        display = f"{revision.commit.short}:{revision.path}"
        if data is None:
            return Unloadable("git does not have this version of the file")
        document = decode_document(data, display, reader)
        digest = None
        if not document.problems and isinstance(document.data, dict):
            # repr tells apart what YAML reads (text, numbers, booleans, dates, order).
            key = hashlib.sha256(repr(document.data).encode("utf-8", "backslashreplace"))
            digest = key.digest()
            if digest in same:
                return same[digest]
            if known is not None:
                result = same[digest] = analyse(known, document.data)
                return result
        model, problems, source = validate_document(document, display)
        if model is None:
            first = next((p for p in problems if p.is_error), None)
            message = first.message if first is not None else "it did not load"
            return Unloadable(f"the model file did not load: {message}"[:MAX_REASON_CHARS])
        assert isinstance(document.data, dict)  # validated: a mapping
        path = paths.get(revision.path)
        if path is None:  # a model's versions share a few paths
            path = paths[revision.path] = Path(revision.path)
        result = analyse(LoadedModel(model, path, display, source), document.data)
        if digest is not None:
            same[digest] = result
        return result

    def _from_disk(self, key: str) -> T | Unloadable | None:
        if self.cache is None:
            return None
        entry = self.cache.get(key)
        if entry is None:  # missing, or not signed by the user's key
            return None
        result = _decoded(entry, self.decode)
        if result is None:
            self.stats.rejected += 1
        return result

    def _to_disk(self, key: str, result: T | Unloadable) -> None:
        if self.cache is None:
            return
        entry = (
            {"gap": result.reason}
            if isinstance(result, Unloadable)
            else {"value": self.encode(result)}
        )
        self.cache.put(key, entry)


def _decoded(entry: Any, decode: Callable[[Any], T | None]) -> T | Unloadable | None:
    if not isinstance(entry, Mapping) or len(entry) != 1:
        return None
    if "gap" in entry:
        reason = entry["gap"]
        if isinstance(reason, str) and len(reason) <= MAX_REASON_CHARS:
            return Unloadable(reason)
        return None
    if "value" in entry:
        try:
            return decode(entry["value"])
        except (TypeError, ValueError, KeyError):
            return None
    return None


def _key(fingerprint: str, blob: str) -> str:
    return hashlib.sha256(f"{fingerprint}\0{blob}".encode()).hexdigest()
