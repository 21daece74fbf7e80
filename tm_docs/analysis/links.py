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

    def mitigations_of(self, threat: Threat) -> list[Mitigation]:
        return [self._mitigations[m] for t, m in self._pairs if t == threat.id]

    def threats_of(self, mitigation: Mitigation) -> list[Threat]:
        return [self._threats[t] for t, m in self._pairs if m == mitigation.id]
