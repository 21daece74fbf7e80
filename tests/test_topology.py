"""Boundary crossings and ingress points derived from a model."""

from __future__ import annotations

from tm_docs.analysis.topology import Topology
from tm_docs.load.models import load_file

BODY = """\
boundaries:
  - id: internet
    title: Internet
    trust: untrusted
  - id: vpc
    title: VPC
    trust: internal
  - id: payments
    title: Payments zone
    trust: restricted
    parent: vpc
components:
  - {id: browser, title: Browser, kind: external_entity, boundary: internet}
  - {id: psp, title: Payment provider, kind: external_entity}
  - {id: orders, title: Orders, kind: process, boundary: vpc}
  - {id: worker, title: Payment worker, kind: process, boundary: payments}
  - {id: queue, title: Payments queue, kind: queue, boundary: vpc}
flows:
  - {id: f1, source: browser, destination: orders}
  - {id: f2, source: orders, destination: queue}
  - {id: f3, source: queue, destination: worker}
  - {id: f4, source: worker, destination: psp, bidirectional: true}
  - {id: f5, source: worker, destination: psp}
"""


def _topology(write_model) -> Topology:
    model, problems = load_file(write_model(BODY))
    assert problems == [] and model is not None
    return Topology(model)


def test_crossed_boundaries_leave_inner_first_then_enter_outer_first(write_model) -> None:
    topo = _topology(write_model)
    flows = {f.id: f for f in topo.model.flows}
    assert topo.crossed(flows["f1"]) == ("internet", "vpc")
    assert topo.crossed(flows["f2"]) == ()
    assert topo.crossed(flows["f3"]) == ("payments",)
    assert topo.crossed(flows["f4"]) == ("payments", "vpc")
    assert [f.id for f in topo.crossing_flows()] == ["f1", "f3", "f4", "f5"]


def test_ingress_points_come_from_external_parties(write_model) -> None:
    topo = _topology(write_model)
    # f4 is bidirectional, so the provider's answers enter through it too; f5 only leaves.
    assert [f.id for f in topo.ingress_flows()] == ["f1", "f4"]


def test_external_entities_are_untrusted_wherever_they_are(write_model) -> None:
    topo = _topology(write_model)
    assert topo.chain("payments") == ("payments", "vpc")
    assert topo.trust_of(topo.components["psp"]).value == "untrusted"
    assert topo.is_external(topo.components["psp"])
    assert not topo.is_external(topo.components["queue"])


def test_ingress_is_found_in_a_model_without_boundaries(write_model) -> None:
    path = write_model(
        """\
        components:
          - {id: user, title: User, kind: external_entity}
          - {id: api, title: API, kind: process}
          - {id: db, title: DB, kind: data_store}
        flows:
          - {id: f1, source: user, destination: api}
          - {id: f2, source: api, destination: db}
        """
    )
    model, problems = load_file(path)
    assert model is not None, problems
    topo = Topology(model)
    assert [f.id for f in topo.ingress_flows()] == ["f1"]
    assert topo.trust_of(topo.components["api"]) is None
    assert topo.crossing_flows() == []
