"""One conversion between the 0-100 numbers of OTM and tm-docs' scales.

Each tm-docs value has one canonical number (evenly spaced over 0-100), and a
number maps to the value whose canonical number is nearest.  So tm-docs -> OTM
-> tm-docs gives back the same value; the original number of an imported model
is kept in an attribute and exported again while it still maps to the value.
"""

from __future__ import annotations

from ..model import Classification, TrustLevel

SCORES = (1, 2, 3, 4, 5)
CLASSIFICATIONS = tuple(Classification)
TRUST_LEVELS = tuple(TrustLevel)


def _canonical(index: int, steps: int) -> int:
    return round(100 * index / (steps - 1))


def _nearest(number: float, steps: int) -> int:
    clamped = min(100.0, max(0.0, number))
    # Halves round up (50 of 1-5 is 3; 50 of four classifications is 'confidential').
    return min(steps - 1, int(clamped * (steps - 1) / 100 + 0.5))


def score_from(number: float) -> int:
    return SCORES[_nearest(number, len(SCORES))]


def score_number(score: int) -> int:
    return _canonical(score - 1, len(SCORES))


def classification_from(number: float) -> Classification:
    return CLASSIFICATIONS[_nearest(number, len(CLASSIFICATIONS))]


def classification_number(value: Classification) -> int:
    return _canonical(CLASSIFICATIONS.index(value), len(CLASSIFICATIONS))


def trust_from(number: float) -> TrustLevel:
    return TRUST_LEVELS[_nearest(number, len(TRUST_LEVELS))]


def trust_number(value: TrustLevel) -> int:
    return _canonical(TRUST_LEVELS.index(value), len(TRUST_LEVELS))


# Threat Dragon's and pytm's single severity, and Threagile's enums, as
# (impact, likelihood): a severity says how bad a threat is as a whole, so it is
# split evenly and the importer reports the split as invented.
SEVERITY_SPLIT = {
    "critical": (5, 4),
    "high": (4, 4),
    "medium": (3, 3),
    "low": (2, 2),
    "info": (1, 1),
    "": (3, 3),
}
