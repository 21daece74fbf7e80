"""Where components sit, which flows cross trust boundaries, and where traffic enters.

One place decides these facts; pages, diagrams, rules and diffs all ask here.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from ..model import Boundary, Component, ComponentKind, Flow, ThreatModel, TrustLevel


@dataclass(frozen=True)
class Topology:
    """Lookups over one model's boundaries, components and flows."""

    model: ThreatModel

    @cached_property
    def boundaries(self) -> dict[str, Boundary]:
        return {b.id: b for b in self.model.boundaries}

    @cached_property
    def components(self) -> dict[str, Component]:
        return {c.id: c for c in self.model.components}

    def chain(self, boundary_id: str | None) -> tuple[str, ...]:
        """The boundary and its enclosing boundaries, innermost first."""
        boundaries = self.boundaries
        chain: list[str] = []
        while boundary_id is not None and boundary_id not in chain:
            chain.append(boundary_id)
            boundary_id = boundaries[boundary_id].parent
        return tuple(chain)

    def trust_of(self, component: Component) -> TrustLevel | None:
        """Trust of the component's innermost boundary.

        A boundary nested in another states its own trust level.  A component
        outside every boundary has no recorded trust (None), except an external
        entity, which is untrusted wherever it is drawn.
        """
        if component.boundary is not None:
            return self.boundaries[component.boundary].trust
        if component.kind is ComponentKind.EXTERNAL_ENTITY:
            return TrustLevel.UNTRUSTED
        return None

    def is_external(self, component: Component) -> bool:
        """An external party: anything in an untrusted boundary, or an external entity
        outside every boundary or in a partner or DMZ one.

        An external entity inside an internal or restricted boundary (staff on the
        corporate network, say) is trusted at that level and brings no external traffic.
        """
        trust = self.trust_of(component)
        if trust is TrustLevel.UNTRUSTED:
            return True
        return (
            component.kind is ComponentKind.EXTERNAL_ENTITY
            and trust is not None
            and trust.rank <= TrustLevel.DMZ.rank
        )

    def crossed(self, flow: Flow) -> tuple[str, ...]:
        """Ids of the boundaries a flow crosses: in one end's chain but not the other's."""
        components = self.components
        source = self.chain(components[flow.source].boundary)
        destination = self.chain(components[flow.destination].boundary)
        leaving = [b for b in source if b not in destination]
        entering = [b for b in reversed(destination) if b not in source]
        return (*leaving, *entering)

    def crosses_boundary(self, flow: Flow) -> bool:
        return bool(self.crossed(flow))

    def is_ingress(self, flow: Flow) -> bool:
        """True when the flow brings traffic from an external party into the system."""
        components = self.components
        source, destination = components[flow.source], components[flow.destination]
        inbound = self.is_external(source) and not self.is_external(destination)
        outbound = self.is_external(destination) and not self.is_external(source)
        return inbound or (flow.bidirectional and outbound)

    def ingress_flows(self) -> list[Flow]:
        return [f for f in self.model.flows if self.is_ingress(f)]

    def crossing_flows(self) -> list[Flow]:
        return [f for f in self.model.flows if self.crosses_boundary(f)]
