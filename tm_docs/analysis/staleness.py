"""Whether a model still describes its architecture, decided from git history.

- The **review point** of a model is the latest of: the last commit that changed
  the model file's content (following renames), the day of its review marker
  (`review.date`, to the end of that day, UTC) and the commit of its review
  marker (`review.commit`).  Uncommitted changes to the model file mean it is
  being reviewed right now.
- Its **architecture** is its `watch` globs plus the `paths` of its components.
- It is **stale** when commits that touch its architecture landed after the
  review point, or, when a maximum age is set, when the review point is older.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum

from ..load.history import Commit, History, Unavailable
from ..load.models import LoadedModel
from ..model import ThreatModel
from .globs import compile_glob


class State(str, Enum):
    FRESH = "fresh"
    STALE = "stale"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class ArchitectureChange:
    commit: Commit
    files: tuple[str, ...]


@dataclass(frozen=True)
class Staleness:
    state: State
    reason: str
    review_time: dt.datetime | None = None
    review_commit: Commit | None = None
    changes: tuple[ArchitectureChange, ...] = field(default_factory=tuple)
    too_old: bool = False

    @property
    def since(self) -> dt.datetime | None:
        """When the model became stale: the first architecture change after review."""
        return self.changes[-1].commit.time if self.changes else self.review_time

    @property
    def label(self) -> str:
        return self.state.value


def _matching_paths(history: History, patterns: Sequence[str]) -> set[str]:
    """Paths in the history that match any pattern; only candidates sharing a
    pattern's literal prefix are tested, found by binary search in the sorted paths."""
    paths = history.paths
    found: set[str] = set()
    for pattern in patterns:
        glob = compile_glob(pattern)
        prefix = glob.literal_prefix()
        start = bisect.bisect_left(paths, prefix)
        for path in paths[start:]:
            if not path.startswith(prefix):
                break
            if glob.match(path):
                found.add(path)
    return found


@dataclass(frozen=True)
class LastReview:
    """What a model page says under "Last review"."""

    day: dt.date | None
    commit: Commit | None
    by: tuple[str, ...]


def last_review(model: ThreatModel, verdict: Staleness | None) -> LastReview:
    """The review point of the verdict when history was read; without history (staleness
    off or unreadable) the day of the model's own review marker, if it has one."""
    by = tuple(model.review.by) if model.review else ()
    if verdict is not None and verdict.review_time is not None:
        return LastReview(verdict.review_time.date(), verdict.review_commit, by)
    marked = model.review.date if model.review else None
    return LastReview(marked, None, by)


def watched(model: ThreatModel) -> list[str]:
    return [*model.watch, *(p for c in model.components for p in c.paths)]


def end_of_day(day: dt.date) -> dt.datetime:
    """The last second of a day, UTC: a review marker's day covers all of it."""
    return dt.datetime.combine(day, dt.time(23, 59, 59), tzinfo=dt.timezone.utc)


def _marker_time(model: ThreatModel, now: dt.datetime) -> dt.datetime | None:
    marker = model.review
    if marker is None or marker.date is None or marker.date > now.date():
        return None
    return end_of_day(marker.date)


_STATE_ORDER = {State.STALE: 0, State.UNKNOWN: 1, State.FRESH: 2}
_FAR = dt.datetime.max.replace(tzinfo=dt.timezone.utc)


def most_behind_first(verdicts: Mapping[str, Staleness]) -> list[tuple[str, Staleness]]:
    """The one order of models by staleness, for every face: stale before unknown
    before fresh, the one stale the longest first, then by model id."""
    return sorted(
        verdicts.items(),
        key=lambda item: (_STATE_ORDER[item[1].state], item[1].since or _FAR, item[0]),
    )


@dataclass(frozen=True)
class ReviewPoint:
    """When a model was last reviewed, as history and its review marker tell."""

    time: dt.datetime | None
    commit: Commit | None = None
    names: tuple[str, ...] = ()  # every name the model file had
    notes: tuple[str, ...] = ()  # markers that were ignored, and why
    uncommitted: bool = False  # the file has uncommitted changes: being reviewed now
    outside: bool = False  # the model file is outside the repository


@dataclass
class StalenessMemo:
    """What `mkdocs serve` rebuilds (one `Pipeline`) keep of the staleness verdicts.

    - The moment a model was first seen with uncommitted changes, by the repository, HEAD
      and the model file's names: a model being edited is "reviewed now", and that moment
      stays the same while HEAD and the UTC day do, so that a rebuild in which nothing was
      saved gives the same review point (and pages) again.
    - Each verdict of a committed review point, by everything it is decided from (the
      repository and HEAD, the review point, the watched paths, `since`, the maximum age
      and whether the review point is older than that): never by a time stamp of a file.

    Only what the last build asked for is kept.  `decided` names the models whose verdict
    the last build worked out afresh."""

    _reviewing: dict[tuple[object, ...], dt.datetime] = field(default_factory=dict)
    _verdicts: dict[tuple[object, ...], Staleness] = field(default_factory=dict)
    _used_reviewing: dict[tuple[object, ...], dt.datetime] = field(default_factory=dict)
    _used_verdicts: dict[tuple[object, ...], Staleness] = field(default_factory=dict)
    decided: list[str] = field(default_factory=list)

    def start(self) -> None:
        """Begin a build: what it asks for is what the next one can reuse."""
        self._used_reviewing, self._used_verdicts, self.decided = {}, {}, []

    def finish(self) -> None:
        self._reviewing, self._used_reviewing = self._used_reviewing, {}
        self._verdicts, self._used_verdicts = self._used_verdicts, {}

    def reviewing_since(self, key: tuple[object, ...], now: dt.datetime) -> dt.datetime:
        earlier = self._used_reviewing.get(key) or self._reviewing.get(key)
        since = earlier if earlier is not None and earlier.date() == now.date() else now
        self._used_reviewing[key] = since
        return since

    def verdict(self, key: tuple[object, ...]) -> Staleness | None:
        earlier = self._used_verdicts.get(key) or self._verdicts.get(key)
        if earlier is not None:
            self._used_verdicts[key] = earlier
        return earlier

    def remember(self, key: tuple[object, ...], model_id: str, verdict: Staleness) -> None:
        self._used_verdicts[key] = verdict
        self.decided.append(model_id)


def review_point(
    loaded: LoadedModel,
    history: History | Unavailable,
    *,
    now: dt.datetime | None = None,
    memo: StalenessMemo | None = None,
) -> ReviewPoint:
    """The review point of one model: the one place it is decided, for the staleness
    verdict and for the risk trend alone (which reads only the model files' history:
    this needs no more than that).  A model file with uncommitted changes is being
    reviewed now; with `memo`, "now" is the first build of the day (and HEAD) that saw it
    so (see `StalenessMemo`)."""
    now = now or dt.datetime.now(dt.timezone.utc)
    if isinstance(history, Unavailable):
        return ReviewPoint(_marker_time(loaded.model, now))
    path = history.relative(loaded.path)
    if path is None:
        return ReviewPoint(_marker_time(loaded.model, now), outside=True)
    last, names = history.last_change(path)
    if any(name in history.dirty for name in names):
        if memo is not None:
            now = memo.reviewing_since((history.root, history.head, tuple(names)), now)
        return ReviewPoint(now, names=tuple(names), uncommitted=True)
    review_time, review_commit = (last.time, last) if last else (None, None)
    marker = loaded.model.review
    notes = []
    if marker is not None and marker.date is not None and marker.date > now.date():
        notes.append(f"the review date {marker.date} is in the future and is ignored")
        marker = marker.model_copy(update={"date": None})
    if marker is not None and marker.date is not None:
        marked_day = end_of_day(marker.date)
        if review_time is None or marked_day > review_time:
            review_time, review_commit = marked_day, None
    if marker is not None and marker.commit is not None:
        marked = history.find(marker.commit)
        if marked is None:
            notes.append(f"the review commit {marker.commit} is not in the history and is ignored")
        elif review_time is None or marked.time > review_time:
            review_time, review_commit = marked.time, marked
    return ReviewPoint(review_time, review_commit, tuple(names), tuple(notes))


def staleness(
    loaded: LoadedModel,
    history: History | Unavailable,
    *,
    max_age_days: int | None = None,
    since: dt.datetime | None = None,
    now: dt.datetime | None = None,
    memo: StalenessMemo | None = None,
) -> Staleness:
    """The staleness verdict of one model, with its review point.

    The review point is the one fact every face shows as "last review": without
    history it is the review marker's day, when there is one.  With `memo` (kept across
    `mkdocs serve` rebuilds), a verdict decided from the same inputs before is given again.
    """
    if isinstance(history, History) and history.scope is not None:
        raise ValueError("staleness needs the whole history, not one folder's")
    now = now or dt.datetime.now(dt.timezone.utc)
    point = review_point(loaded, history, now=now, memo=memo)
    if isinstance(history, Unavailable):
        return Staleness(State.UNKNOWN, history.reason, point.time)
    if point.outside:
        return Staleness(State.UNKNOWN, "the model file is outside the git repository", point.time)
    if point.uncommitted:
        return Staleness(
            State.FRESH, "the model file has uncommitted changes: being reviewed now", point.time
        )
    review_time = point.time
    if review_time is None:
        return Staleness(State.UNKNOWN, "the model file has not been committed yet")
    patterns = watched(loaded.model)
    too_old = max_age_days is not None and now - review_time > dt.timedelta(days=max_age_days)
    if memo is None:
        return _verdict(history, point, review_time, patterns, since, max_age_days, too_old)
    review_sha = point.commit.sha if point.commit is not None else None
    key: tuple[object, ...] = (history.root, history.head, point.names, review_time, review_sha)
    key += (point.notes, tuple(patterns), since, max_age_days, too_old)
    verdict = memo.verdict(key)
    if verdict is None:
        verdict = _verdict(history, point, review_time, patterns, since, max_age_days, too_old)
        memo.remember(key, loaded.model.id, verdict)
    return verdict


def _verdict(
    history: History,
    point: ReviewPoint,
    review_time: dt.datetime,
    patterns: list[str],
    since: dt.datetime | None,
    max_age_days: int | None,
    too_old: bool,
) -> Staleness:
    """The verdict of a model reviewed at the committed `point` of the whole `history`."""
    review_commit, names, notes = point.commit, point.names, point.notes
    review_index = history.index_of(review_commit.sha) if review_commit is not None else None
    by_commit: dict[int, list[str]] = {}
    for path in _matching_paths(history, patterns):
        if path in names:
            continue
        for index in history.commits_touching(path):
            commit = history.commits[index]
            if since is not None and commit.time < since:
                continue
            if review_index is not None:
                # The log lists children before parents: whatever comes before the
                # review commit is no ancestor of it, i.e. landed after the review,
                # whatever the clocks said.  (Branch work merged later counts through
                # its merge commit.)
                if index >= review_index:
                    continue
            elif commit.time <= review_time:
                continue
            by_commit.setdefault(index, []).append(path)
    changes = [
        ArchitectureChange(history.commits[i], tuple(sorted(files)))
        for i, files in sorted(by_commit.items())
    ]
    suffix = "".join(f"; {note}" for note in notes)
    if changes:
        count = len(changes)
        reason = f"{count} commit{'s' if count != 1 else ''} changed its architecture after review"
        return Staleness(
            State.STALE, reason + suffix, review_time, review_commit, tuple(changes), too_old
        )
    if too_old:
        return Staleness(
            State.STALE,
            f"not reviewed for more than {max_age_days} days{suffix}",
            review_time,
            review_commit,
            too_old=True,
        )
    if not patterns:
        return Staleness(
            State.FRESH,
            "no architecture paths to watch (add 'watch' globs or component 'paths')" + suffix,
            review_time,
            review_commit,
        )
    return Staleness(
        State.FRESH, "no architecture change since review" + suffix, review_time, review_commit
    )
