"""Site-wide analysis: backlog order, heatmap, summaries (pure functions of the models)."""

from __future__ import annotations

from collections import Counter

from tm_docs.analysis.portfolio import Portfolio
from tm_docs.analysis.risk import RiskBands
from tm_docs.load.models import load_models

BACKLOG_MODEL = """\
components:
  - {id: api, title: API, kind: process}
threats:
  - {id: T-high, title: High, categories: [spoofing], targets: [api], impact: 4, likelihood: 3}
  - {id: T-mid, title: Mid, categories: [tampering], targets: [api], impact: 3, likelihood: 2}
  - {id: T-low, title: Low, categories: [tampering], targets: [api], impact: 1, likelihood: 2}
  - id: T-closed
    title: Closed
    categories: [tampering]
    targets: [api]
    impact: 5
    likelihood: 5
    status: mitigated
mitigations:
  # Same top risk (12); M-b also closes T-mid, so it addresses more in total.
  - {id: M-a, title: A, owner: team-a, status: proposed, threats: [T-high]}
  - {id: M-b, title: B, owner: team-b, status: proposed, threats: [T-high, T-mid]}
  # Same top risk (6) and total: in progress before planned before proposed.
  - {id: M-c, title: C, owner: team-a, status: proposed, threats: [T-mid]}
  - {id: M-d, title: D, owner: team-b, status: in_progress, threats: [T-mid]}
  - {id: M-e, title: E, owner: team-a, status: planned, threats: [T-mid]}
  # Only a closed threat: nothing open to address, last.
  - {id: M-f, title: F, owner: team-a, status: planned, threats: [T-closed]}
  # Done: not in the backlog at all.
  - {id: M-g, title: G, owner: team-a, status: done, threats: [T-high]}
  - {id: M-h, title: H, owner: team-b, status: proposed}
  - {id: M-i, title: I, owner: team-a, status: planned, threats: [T-low]}
"""


def _portfolio(write_model, bands: RiskBands | None = None) -> Portfolio:
    result = load_models([write_model(BACKLOG_MODEL)])
    assert result.ok, [str(p) for p in result.problems]
    return Portfolio(result.models, bands or RiskBands())


def test_backlog_order_and_tie_breaks(write_model) -> None:
    backlog = _portfolio(write_model).backlog
    # M-g is done and mitigates T-high: its residual risk is 4 x (3 - 1) = 8.
    assert [(i.mitigation.id, i.risk, i.total_risk) for i in backlog] == [
        ("M-b", 8, 14),
        ("M-a", 8, 8),
        ("M-d", 6, 6),
        ("M-e", 6, 6),
        ("M-c", 6, 6),
        ("M-i", 2, 2),
        ("M-f", 0, 0),
        ("M-h", 0, 0),
    ]
    assert [i.band.name if i.band else None for i in backlog][1:3] == ["medium", "medium"]
    assert _portfolio(write_model).owners == ["team-b", "team-a"]


def test_heatmap_and_summary_count_open_threats_only(write_model) -> None:
    portfolio = _portfolio(write_model)
    cells = Counter((r.threat.impact, r.threat.likelihood) for r in portfolio.open_threats)
    assert cells == {(4, 3): 1, (3, 2): 1, (1, 2): 1}
    (summary,) = portfolio.summaries
    assert summary.by_band == {"low": 1, "medium": 1, "high": 1, "critical": 0}
    assert summary.highest_open is not None and summary.highest_open.threat.id == "T-high"


def test_bands_follow_the_configured_thresholds(write_model) -> None:
    portfolio = _portfolio(write_model, RiskBands(medium=3, high=6, critical=12))
    (summary,) = portfolio.summaries
    assert summary.by_band == {"low": 1, "medium": 0, "high": 1, "critical": 1}


def test_residual_risk_counts_done_mitigations(write_model) -> None:
    portfolio = _portfolio(write_model)
    rated = {r.threat.id: r for r in portfolio.all_threats}
    assert (rated["T-high"].threat.risk, rated["T-high"].residual) == (12, 8)
    assert rated["T-high"].residual_band is not None
    assert rated["T-high"].residual_band.name == "medium"
    assert (rated["T-mid"].threat.risk, rated["T-mid"].residual) == (6, 6)
    assert rated["T-closed"].residual == 0 and rated["T-closed"].residual_band is None


HOSTILE_BACKLOG = """\
components:
  - {id: api, title: API, kind: process}
threats:
  - id: T-1
    title: "=HYPERLINK(\\"http://x.invalid\\") \\u202egnp.exe"
    categories: [spoofing]
    targets: [api]
    impact: 5
    likelihood: 4
  - {id: T-2, title: "say \\"hi\\", then leave 😀", categories: [tampering], targets: [api],
     impact: 2, likelihood: 2}
mitigations:
  - {id: M-1, title: "+1, \\"quoted\\" ë", owner: "@team", status: proposed,
     threats: [T-1, T-2], ticket: "#42"}
  - {id: M-2, title: "-minus", owner: team-z, status: planned, threats: [T-2], sprint: "=1+1"}
"""


def test_backlog_exports_of_a_rebuild_reuse_rows_and_equal_a_fresh_export(write_model) -> None:
    """The serve memo's exports: an unchanged model's rows are not written again, and the
    bytes equal the exports made row by row (hostile cells too), after an edit that moves
    the other model's ranks."""
    from tm_docs.analysis.portfolio import PortfolioMemo
    from tm_docs.load.models import LoadMemo
    from tm_docs.render.exports import BacklogTexts, backlog_csv, backlog_json

    paths = [
        write_model(BACKLOG_MODEL, name="a.yaml", model_id="a"),
        write_model(HOSTILE_BACKLOG, name="b.yaml", model_id="b"),
    ]
    loads, parts, texts = LoadMemo(), PortfolioMemo(), BacklogTexts()

    def portfolios() -> tuple[Portfolio, Portfolio]:
        result = load_models(paths, memo=loads)
        assert result.ok, [str(p) for p in result.problems]
        return Portfolio(result.models, RiskBands(), parts), Portfolio(result.models)

    def exports(portfolio: Portfolio, fresh: Portfolio) -> int:
        assert backlog_csv(portfolio, texts) == backlog_csv(fresh)
        written = texts.written
        assert backlog_json(portfolio, texts) == backlog_json(fresh)
        assert texts.written == written
        return written

    served, fresh = portfolios()
    assert exports(served, fresh) == len(served.backlog) == 10
    assert exports(*portfolios()) == 0 and parts.made == []  # made when first asked for
    # The hostile model's top threat drops: its rows are written again, the other
    # model's rows are reused with their new ranks.
    paths[1].write_text(paths[1].read_text().replace("likelihood: 4", "likelihood: 1"))
    served, fresh = portfolios()
    assert served.backlog[0].model.id == "a"
    assert parts.made == ["b"]
    assert exports(served, fresh) == 2
    assert "'=1+1" in backlog_csv(served, texts) and "\\u202e" in backlog_json(served, texts)
