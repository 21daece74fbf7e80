"""Threat <-> mitigation links of one model.

The format lets authors write a link on either side (`threat.mitigations` or
`mitigation.threats`); both sides are combined here, so every reader sees the
same links whichever side they were written on.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from ..model import Mitigation, Threat, ThreatModel


@dataclass(frozen=True)
class Links:
    model: ThreatModel

    @cached_property
    def _pairs(self) -> list[tuple[str, str]]:
        pairs = [(t.id, m) for t in self.model.threats for m in t.mitigations]
        pairs += [(t, m.id) for m in self.model.mitigations for t in m.threats]
        return list(dict.fromkeys(pairs))

    @cached_property
    def _threats(self) -> dict[str, Threat]:
        return {t.id: t for t in self.model.threats}

    @cached_property
    def _mitigations(self) -> dict[str, Mitigation]:
        return {m.id: m for m in self.model.mitigations}

    @cached_property
    def _by_threat(self) -> dict[str, list[str]]:
        """Threat id -> its mitigations' ids, in the order of the pairs."""
        index: dict[str, list[str]] = {}
        for t, m in self._pairs:
            index.setdefault(t, []).append(m)
        return index

    @cached_property
    def _by_mitigation(self) -> dict[str, list[str]]:
        index: dict[str, list[str]] = {}
        for t, m in self._pairs:
            index.setdefault(m, []).append(t)
        return index

    def mitigations_of(self, threat: Threat) -> list[Mitigation]:
        return [self._mitigations[m] for m in self._by_threat.get(threat.id, ())]

    def threats_of(self, mitigation: Mitigation) -> list[Threat]:
        return [self._threats[t] for t in self._by_mitigation.get(mitigation.id, ())]
