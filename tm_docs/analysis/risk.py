"""Risk scores and bands, and which threats still count against a system.

Risk is impact x likelihood, from 1 to 25.  A band names a range of scores;
the thresholds are configurable, and this module is the one place that maps a
score to its band.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..model import Threat, ThreatStatus

# Statuses whose threats still need work; the others stay visible on the site
# but leave the open backlog and the heatmap.
OPEN_STATUSES = frozenset({ThreatStatus.OPEN})


@dataclass(frozen=True)
class Band:
    name: str
    low: int
    high: int

    @property
    def label(self) -> str:
        return self.name.capitalize()

    def __contains__(self, score: object) -> bool:
        return isinstance(score, int) and self.low <= score <= self.high


@dataclass(frozen=True)
class RiskBands:
    """Lowest score of each band above 'low'; the defaults split 1-25 into four."""

    medium: int = 5
    high: int = 10
    critical: int = 15

    def __post_init__(self) -> None:
        if not 1 < self.medium < self.high < self.critical <= 25:
            raise ValueError(
                "risk band thresholds must rise: 1 < medium < high < critical <= 25 "
                f"(got medium={self.medium}, high={self.high}, critical={self.critical})"
            )

    @property
    def bands(self) -> tuple[Band, ...]:
        return (
            Band("low", 1, self.medium - 1),
            Band("medium", self.medium, self.high - 1),
            Band("high", self.high, self.critical - 1),
            Band("critical", self.critical, 25),
        )

    def band(self, score: int) -> Band:
        for band in self.bands:
            if score in band:
                return band
        raise ValueError(f"risk score {score} is outside 1-25")

    def band_of(self, threat: Threat) -> Band:
        return self.band(threat.risk)

    def named(self, name: str) -> Band:
        for band in self.bands:
            if band.name == name:
                return band
        raise KeyError(name)


def is_open(threat: Threat) -> bool:
    return threat.status in OPEN_STATUSES


def residual_risk(threat: Threat, done_mitigations: int) -> int:
    """The risk left after the mitigations that are done.

    Each completed mitigation lowers the likelihood by one step, never below 1;
    the impact stays, since mitigations mostly make a threat less likely rather
    than less harmful.  Mitigated and false-positive threats leave no risk;
    accepted and transferred ones keep theirs (it is accepted, not gone).
    """
    if threat.status in (ThreatStatus.MITIGATED, ThreatStatus.FALSE_POSITIVE):
        return 0
    return threat.impact * max(1, threat.likelihood - done_mitigations)


def is_closed(threat: Threat) -> bool:
    """Mitigated, accepted, transferred or false positive: no work left on the threat."""
    return not is_open(threat)


def by_residual_risk(residual: int, inherent: int, element_id: str) -> tuple[int, int, str]:
    """Sort key: highest residual risk first, then highest inherent risk, then id."""
    return (-residual, -inherent, element_id)
