"""Cache entries a pull request cannot forge: JSON signed with a key of this user's.

The project's cache folder is untrusted (a pull request can put files there), so
a diagram read from it is checked for what it holds.  Rendered pages cannot be
checked that way: they are Markdown with HTML.  Entries of this kind are
therefore signed with an HMAC whose key lives outside the project and outside
the cache folder, in the user's own cache home (`$XDG_CACHE_HOME/tm-docs/`, by
default `~/.cache/tm-docs/`), readable by the user alone.  An entry is used only
when its signature, made over its kind, its key and its bytes, verifies; it is
JSON, never a pickle.  Without a usable key (missing and not creatable, a link,
readable by others) nothing is cached: the build computes everything afresh.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import stat
import tempfile
from collections.abc import Mapping, Set
from dataclasses import fields, is_dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from .cache import CacheFolder, CacheRefused, open_cache

log = logging.getLogger("mkdocs.plugins.tm_docs")

KEY_BYTES = 32
_KEY_NAME = "cache-key"
_MAC_HEX = 64  # a SHA-256 HMAC in hex, then a newline, then the JSON


def key_path() -> Path:
    """Where this user's signing key lives (outside every project)."""
    home = os.environ.get("XDG_CACHE_HOME")
    base = Path(home) if home and os.path.isabs(home) else Path.home() / ".cache"
    return base / "tm-docs" / _KEY_NAME


def user_key(path: Path | None = None) -> bytes | None:
    """The signing key, made on first use; None when there is no safe one."""
    path = path or key_path()
    key = _read_key(path)
    if key is not None:
        return key
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Written in full beside it, then put in place in one step, so that no build
        # ever sees half a key, and a key left half-written by a killed build is replaced.
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{_KEY_NAME}-")
        try:
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(os.urandom(KEY_BYTES).hex() + "\n")
            try:
                os.link(temporary, path)  # never replaces a key a build beside this one made
            except FileExistsError:
                if _unusable_own_key(path):
                    os.replace(temporary, path)
        finally:
            if os.path.lexists(temporary):
                os.unlink(temporary)
    except OSError as exc:
        log.debug(f"no cache signing key ({exc}); pages are not cached")
        return None
    return _read_key(path)


def _unusable_own_key(path: Path) -> bool:
    """A private regular file of this user that holds no key (cut short when written)."""
    try:
        info = path.lstat()
    except OSError:
        return False
    private = not (info.st_mode & 0o077) and info.st_uid == os.getuid()
    return stat.S_ISREG(info.st_mode) and private and _read_key(path) is None


def _read_key(path: Path) -> bytes | None:
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        private = not (info.st_mode & 0o077) and info.st_uid == os.getuid()
        if not stat.S_ISREG(info.st_mode) or not private or info.st_size > 4 * KEY_BYTES:
            log.debug(f"the cache signing key {path} is not a private file; pages are not cached")
            return None
        text = os.read(fd, 4 * KEY_BYTES).decode("ascii", "replace").strip()
    except OSError:
        return None
    finally:
        os.close(fd)
    try:
        key = bytes.fromhex(text)
    except ValueError:
        return None
    return key if len(key) == KEY_BYTES else None


def content_key(*parts: Any, keys: ContentKeys | None = None) -> str:
    """A hash of values (dataclasses, mappings, sets, sequences, scalars) that is the same
    in every process: sets are hashed in sorted order, unlike their `repr`, whose order
    changes with Python's per-process string hashing.  With `keys`, objects it knows
    stand for themselves, and dataclasses met before are not walked again."""
    digest = hashlib.sha256()
    _feed(digest, parts, keys or _NO_KEYS)
    return digest.hexdigest()


class ContentKeys:
    """What many content keys of one build share.

    `known` names objects by their `id()` with a text that stands for their whole content
    (a loaded model by its file's hash, say): the caller promises that equal texts mean
    equal objects.  The hash of every dataclass walked is remembered by its identity, with
    the object itself, so that its id is not reused while this lives; the objects must
    not change meanwhile (the view data of one build is frozen)."""

    def __init__(self, known: Mapping[int, str] | None = None, *, remember: bool = True) -> None:
        self.known = dict(known or {})
        self._walked: dict[int, tuple[Any, bytes]] | None = {} if remember else None
        self._met: dict[int, tuple[Any, bytes]] = {}  # walked or reused by these keys

    def reuse(self, earlier: ContentKeys) -> None:
        """Take the hashes of the dataclasses the `earlier` keys of this process met (a
        `mkdocs serve` rebuild: the unchanged models' view objects are the same objects).
        A dataclass's hash is of its content: the objects it names by `known` stand for
        theirs, and the same object is named the same in every build (a loaded model by
        its file's hash).  Only what the earlier keys met is kept, with its objects."""
        if self._walked is not None and earlier._walked is not None:
            self._walked = {**earlier._met, **self._walked}


_NO_KEYS = ContentKeys(remember=False)


def _feed(digest: Any, value: Any, keys: ContentKeys) -> None:
    name = keys.known.get(id(value))
    if name is not None:
        digest.update(f"<known {name}>".encode())
    elif is_dataclass(value) and not isinstance(value, type):
        walked = keys._walked
        if walked is None:
            _feed_fields(digest, value, keys)
            return
        seen = walked.get(id(value))
        if seen is None:
            inner = hashlib.sha256()
            _feed_fields(inner, value, keys)
            seen = walked[id(value)] = (value, inner.digest())
        keys._met[id(value)] = seen
        digest.update(b"<#" + seen[1] + b">")
    elif isinstance(value, Mapping):
        digest.update(b"{")
        for key, item in sorted(value.items(), key=lambda pair: _sortable(pair[0])):
            _feed(digest, key, keys)
            digest.update(b":")
            _feed(digest, item, keys)
        digest.update(b"}")
    elif isinstance(value, Set):
        digest.update(b"set(")
        for item in sorted(value, key=_sortable):
            _feed(digest, item, keys)
        digest.update(b")")
    elif isinstance(value, (list, tuple)):
        digest.update(b"[")
        for item in value:
            _feed(digest, item, keys)
        digest.update(b"]")
    else:
        digest.update(f"{type(value).__qualname__}:{value!r};".encode())


def _feed_fields(digest: Any, value: Any, keys: ContentKeys) -> None:
    digest.update(f"<{type(value).__qualname__}".encode())
    for item in fields(value):
        digest.update(f" {item.name}=".encode())
        _feed(digest, getattr(value, item.name), keys)
    digest.update(b">")


def _sortable(value: Any) -> str:
    return f"{type(value).__qualname__}:{value!r}"


@lru_cache(maxsize=1)
def code_digest() -> str:
    """A hash of tm-docs' own files (code, templates, rules, assets), once per process:
    what a cached page was made by, beyond the version number (a development checkout
    changes without one)."""
    digest = hashlib.sha256()
    package = resources.files("tm_docs")
    root = Path(str(package))
    for path in sorted(root.rglob("*")):
        if path.suffix in {".py", ".j2", ".yaml", ".css", ".js"} and path.is_file():
            digest.update(path.relative_to(root).as_posix().encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


class SignedCache:
    """JSON entries of one kind in the project's cache folder, signed with the user's key."""

    def __init__(self, folder: CacheFolder, key: bytes, kind: str) -> None:
        self.folder = folder
        self._key = key
        self._kind = kind.encode()

    def _mac(self, entry: str, payload: bytes) -> bytes:
        signed = hmac.new(self._key, self._kind + b"\0" + entry.encode() + b"\0", hashlib.sha256)
        signed.update(payload)
        return signed.hexdigest().encode()

    def get(self, entry: str) -> Any | None:
        """The entry's value, or None (missing, or failing the check: logged at debug)."""
        raw = self.folder.get(entry)
        if raw is None:
            return None
        mac, payload = raw[:_MAC_HEX], raw[_MAC_HEX + 1 :]
        if raw[_MAC_HEX : _MAC_HEX + 1] != b"\n" or not hmac.compare_digest(
            mac, self._mac(entry, payload)
        ):
            log.debug(f"cache entry {entry} failed its signature check; computed afresh")
            return None
        try:
            return json.loads(payload.decode("utf-8"))
        except ValueError:  # signed by us, so only a bug would get here
            log.debug(f"cache entry {entry} is not JSON; computed afresh")
            return None

    def put(self, entry: str, value: Any) -> bool:
        payload = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return self.folder.put(entry, self._mac(entry, payload) + b"\n" + payload)

    def prune(self, keep: set[str]) -> int:
        return self.folder.prune(keep)


def open_signed_cache(
    root: Path, cache_dir: str, kind: str, *, max_bytes: int, key: bytes | None = None
) -> SignedCache | CacheRefused | None:
    """The signed cache of `kind`; why the folder is refused; or None without a key."""
    key = key if key is not None else user_key()
    if key is None:
        return None
    opened = open_cache(root, cache_dir, kind, suffix=".json", max_bytes=max_bytes)
    if isinstance(opened, CacheRefused):
        return opened
    return SignedCache(opened, key, kind)
