"""A generated portfolio of realistic threat models in a git repository with a long history.

Importable, so that tests and other scripts can make the same portfolio:

    from benchmarks.portfolio_repo import make_portfolio, make_baseline
    make_portfolio(Path(tmp) / "site", models=150)

`make_portfolio` writes a MkDocs project (mkdocs-material, the search plugin and
tm-docs) whose `models/` folder holds `models` valid model files of 20-60
elements and 10-40 threats each, with owners, technologies that get icons,
Markdown descriptions and watched code paths, and commits it all with a
history of `commits` commits (made with `git fast-import`, so 2,000 commits
take well under a second) that touch the watched code and, now and then, a
model.  The same seed always gives the same files and the same history.

`make_baseline` writes the plain-Markdown site that tm-docs' site is measured
against: the very pages and data files tm-docs generates, as hand-written
files, with the same theme and plugins but without tm-docs.
"""

from __future__ import annotations

import random
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

TEAMS = (
    "team-payments",
    "team-identity",
    "team-search",
    "team-platform",
    "team-data",
    "team-mobile",
    "team-growth",
    "team-logistics",
    "team-support",
    "team-billing",
    "team-catalogue",
    "team-messaging",
)
# Technologies the diagrams draw with an icon, and a few they draw as plain shapes.
PROCESS_TECH = (
    "go",
    "python, fastapi",
    "kotlin, spring boot",
    "java",
    "node.js",
    "python, django",
    "nginx",
    "envoy",
    "kubernetes cronjob (python)",
    "rust",
)
STORE_TECH = ("postgresql", "mysql", "redis", "mongodb", "s3", "elasticsearch", "hashicorp vault")
QUEUE_TECH = ("kafka", "rabbitmq", "sqs", "nats")
CLIENT_TECH = ("web app (React)", "iOS and Android apps", "browser", None)
NOUNS = (
    "orders",
    "accounts",
    "invoices",
    "shipments",
    "search",
    "profiles",
    "payments",
    "reports",
    "notifications",
    "sessions",
    "catalogue",
    "reviews",
    "coupons",
    "returns",
    "inventory",
    "pricing",
)
WORDS = (
    "request token customer service queue message record tenant partner session key audit "
    "export import replica backup webhook schedule batch worker gateway header cache secret "
    "role policy endpoint field payload signature certificate upgrade rollout region"
).split()
THREAT_TITLES = (
    ("spoofing", "Forged {x} token accepted by {c}", "CWE-287"),
    ("tampering", "Unsigned {x} messages change {c}'s records", "CWE-345"),
    ("repudiation", "No trace of who changed {x} in {c}", "CWE-778"),
    ("information_disclosure", "{x} details leak from {c} logs", "CWE-532"),
    ("denial_of_service", "Unbounded {x} requests exhaust {c}", "CWE-770"),
    ("elevation_of_privilege", "Missing authorisation check on {c}'s {x} endpoint", "CWE-862"),
    ("tampering", "Injection through {x} fields handled by {c}", "CWE-89"),
    ("information_disclosure", "Another tenant's {x} served by {c}", "CWE-639"),
)
MITIGATION_STATUS = ("proposed", "planned", "in_progress", "done")


@dataclass(frozen=True)
class Portfolio:
    """Where the generated project lives and what it holds."""

    root: Path
    config: Path  # mkdocs.yml
    model_ids: tuple[str, ...]

    def model_file(self, model_id: str) -> Path:
        return self.root / "models" / f"{model_id}.yaml"


def _sentence(rng: random.Random, words: int) -> str:
    text = " ".join(rng.choice(WORDS) for _ in range(words))
    return text[0].upper() + text[1:] + "."


def _paragraphs(rng: random.Random, count: int) -> str:
    parts = []
    for _ in range(count):
        parts.append(" ".join(_sentence(rng, rng.randint(8, 16)) for _ in range(rng.randint(2, 4))))
    if rng.random() < 0.5:
        items = "\n".join(f"- the **{rng.choice(WORDS)}** {_sentence(rng, 6)}" for _ in range(3))
        parts.append(items)
    return "\n\n".join(parts) + "\n"


def model_data(index: int, rng: random.Random) -> dict[str, Any]:
    """One realistic model: 20-60 elements, 10-40 threats, with their mitigations."""
    noun = NOUNS[index % len(NOUNS)]
    model_id = f"{noun}-{index:03d}"
    owner = TEAMS[index % len(TEAMS)]
    elements = rng.randint(20, 60)
    n_boundaries = rng.randint(3, 5)
    n_assets = rng.randint(3, 8)
    n_components = max(6, (elements - n_boundaries - n_assets) // 2)
    n_flows = max(4, elements - n_boundaries - n_assets - n_components)
    trust = ["untrusted", "partner", "dmz", "internal", "restricted"]
    boundaries = [
        {
            "id": f"b{i}",
            "title": f"{trust[i % 5].title()} zone {i}",
            "trust": trust[i % 5],
            "description": _sentence(rng, 10),
        }
        for i in range(n_boundaries)
    ]
    assets = []
    for i in range(n_assets):
        assets.append(
            {
                "id": f"a{i}",
                "title": f"{rng.choice(WORDS).title()} {rng.choice(WORDS)} data",
                "kind": rng.choice(["data_set", "secret", "critical_api", "data_store"]),
                "classification": rng.choice(["internal", "confidential", "restricted"]),
                "description": _sentence(rng, 14),
            }
        )
    components: list[dict[str, Any]] = []
    for i in range(n_components):
        if i == 0:
            kind, tech = "external_entity", rng.choice(CLIENT_TECH)
        elif i % 5 == 3:
            kind, tech = "data_store", rng.choice(STORE_TECH)
        elif i % 7 == 5:
            kind, tech = "queue", rng.choice(QUEUE_TECH)
        else:
            kind, tech = "process", rng.choice(PROCESS_TECH)
        component: dict[str, Any] = {
            "id": f"c{i}",
            "title": f"{noun.title()} {rng.choice(WORDS)} {i}",
            "kind": kind,
            "boundary": f"b{0 if i == 0 else 1 + i % (n_boundaries - 1)}",
            "owner": rng.choice(TEAMS) if rng.random() < 0.3 else owner,
            "description": _paragraphs(rng, 1),
            "data": sorted({f"a{rng.randrange(n_assets)}" for _ in range(2)}),
        }
        if tech:
            component["technology"] = tech
        if kind != "external_entity":
            component["paths"] = [f"services/{model_id}/c{i}/**"]
        if kind == "data_store":
            component["encrypted_at_rest"] = rng.random() < 0.7
        if kind == "process":
            component["rate_limited"] = rng.random() < 0.5
            component["audit_log"] = rng.random() < 0.5
        components.append(component)
    flows = []
    for i in range(n_flows):
        source = rng.randrange(n_components)
        target = rng.randrange(n_components - 1)
        target = target + 1 if target >= source else target
        flows.append(
            {
                "id": f"f{i}",
                "title": f"{rng.choice(WORDS).title()} {rng.choice(WORDS)} calls",
                "source": f"c{source}",
                "destination": f"c{target}",
                "data": [f"a{rng.randrange(n_assets)}"],
                "protocol": rng.choice(["HTTPS", "gRPC", "AMQP over TLS", "PostgreSQL"]),
                "authentication": {
                    "method": rng.choice(["jwt", "mtls", "api_key", "cloud_iam", "none"])
                },
                "encrypted": rng.random() < 0.85,
            }
        )
    n_threats = rng.randint(10, 40)
    n_mitigations = max(4, n_threats // 2)
    prefix = f"T-{index:03d}"
    mitigations = []
    for i in range(n_mitigations):
        mitigations.append(
            {
                "id": f"M-{index:03d}-{i:02d}",
                "title": f"{_sentence(rng, 5)[:-1]} ({rng.choice(WORDS)})",
                "description": _sentence(rng, 18),
                "owner": rng.choice(TEAMS) if rng.random() < 0.3 else owner,
                "status": rng.choice(MITIGATION_STATUS),
                "ticket": f"{noun[:3].upper()}-{100 + i}",
            }
        )
    threats = []
    for i in range(n_threats):
        category, title, cwe = THREAT_TITLES[rng.randrange(len(THREAT_TITLES))]
        target = (
            f"c{rng.randrange(n_components)}"
            if rng.random() < 0.6
            else f"f{rng.randrange(n_flows)}"
        )
        threats.append(
            {
                "id": f"{prefix}-{i:02d}",
                "title": title.format(x=rng.choice(WORDS), c=f"{noun} {target}"),
                "description": _paragraphs(rng, rng.randint(1, 2)),
                "categories": [category],
                "targets": [target],
                "impact": rng.randint(1, 5),
                "likelihood": rng.randint(1, 5),
                "status": "open" if rng.random() < 0.8 else "mitigated",
                "references": [cwe],
                "mitigations": sorted(
                    {mitigations[rng.randrange(n_mitigations)]["id"] for _ in range(2)}
                ),
            }
        )
    return {
        "format_version": 1,
        "id": model_id,
        "title": f"{noun.title()} service {index}",
        "owner": owner,
        "description": _paragraphs(rng, 3),
        "review": {"date": f"2026-{1 + index % 9:02d}-{1 + index % 27:02d}", "by": ["AppSec"]},
        "watch": [f"services/{model_id}/**"],
        "boundaries": boundaries,
        "components": components,
        "flows": flows,
        "assets": assets,
        "threats": threats,
        "mitigations": mitigations,
    }


def model_text(index: int, seed: int = 1) -> str:
    data = model_data(index, random.Random(f"{seed}-{index}"))
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


THEME: dict[str, Any] = {
    "name": "material",
    "font": False,
    "features": ["navigation.sections", "navigation.top", "content.action.edit"],
}


def site_config(*, tm_docs: bool, prune: bool = False) -> dict[str, Any]:
    theme = {**THEME, "features": [*THEME["features"], *(["navigation.prune"] if prune else [])]}
    plugins: list[Any] = ["search"]
    if tm_docs:
        plugins.append({"tm-docs": {"cache_dir": ".tm-docs-cache"}})
    return {
        "site_name": "Portfolio",
        "repo_url": "https://git.example.com/org/threat-models",
        "edit_uri": "-/edit/main/docs/",
        "theme": theme,
        "plugins": plugins,
        # tm-docs adds md_in_html itself; the plain site names it, as its guide says.
        "markdown_extensions": [
            "admonition",
            "tables",
            *([] if tm_docs else ["md_in_html"]),
            {"toc": {"permalink": True}},
        ],
    }


def write_config(root: Path, *, tm_docs: bool, prune: bool = False) -> Path:
    path = root / "mkdocs.yml"
    config = site_config(tm_docs=tm_docs, prune=prune)
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def _fast_import(root: Path, files: dict[str, str], model_ids: list[str], commits: int) -> None:
    """All files in the first commit, then `commits - 1` commits touching code and models."""
    rng = random.Random(f"history-{len(model_ids)}-{commits}")
    chunks: list[bytes] = []
    start = 1_760_000_000

    def blob(text: str) -> None:
        data = text.encode("utf-8")
        chunks.append(f"data {len(data)}\n".encode())
        chunks.append(data)
        chunks.append(b"\n")

    for n in range(commits):
        chunks.append(b"commit refs/heads/main\n")
        author = f"Dev {n % 17} <dev{n % 17}@example.invalid>"
        chunks.append(f"committer {author} {start + n * 900} +0000\n".encode())
        blob("Initial portfolio\n" if n == 0 else f"Change {n}\n")
        if n == 0:
            for path, text in files.items():
                chunks.append(f"M 100644 inline {path}\n".encode())
                blob(text)
            continue
        model_id = rng.choice(model_ids)
        if rng.random() < 0.05:
            path = f"models/{model_id}.yaml"
            chunks.append(f"M 100644 inline {path}\n".encode())
            blob(files[path])  # a touch that keeps the content (a reviewed commit)
        else:
            component = rng.randrange(6)
            chunks.append(f"M 100644 inline services/{model_id}/c{component}/main.py\n".encode())
            blob(f"# revision {n}\n")
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    subprocess.run(["git", "fast-import", "--quiet"], cwd=root, input=b"".join(chunks), check=True)
    subprocess.run(["git", "checkout", "-q", "-f", "main"], cwd=root, check=True)


def make_portfolio(root: Path, models: int, *, commits: int = 2000, seed: int = 1) -> Portfolio:
    """A committed MkDocs project with `models` generated models in `root` (created)."""
    root.mkdir(parents=True, exist_ok=True)
    files: dict[str, str] = {
        ".gitignore": "site/\n.tm-docs-cache/\n",
        "docs/index.md": "# Threat models\n\nThe organisation's threat models.\n",
        "mkdocs.yml": yaml.safe_dump(site_config(tm_docs=True), sort_keys=False),
    }
    portfolio = portfolio_at(root, models)
    for index, model_id in enumerate(portfolio.model_ids):
        files[f"models/{model_id}.yaml"] = model_text(index, seed)
        files[f"services/{model_id}/c1/main.py"] = "# service code\n"
    _fast_import(root, files, list(portfolio.model_ids), max(1, commits))
    return portfolio


def portfolio_at(root: Path, models: int) -> Portfolio:
    """The `Portfolio` that `make_portfolio(root, models)` made earlier."""
    ids = tuple(f"{NOUNS[index % len(NOUNS)]}-{index:03d}" for index in range(models))
    return Portfolio(root, root / "mkdocs.yml", ids)


def make_baseline(portfolio: Portfolio, root: Path, *, prune: bool = False) -> Path:
    """The plain-Markdown site with tm-docs' pages as hand-written files; returns mkdocs.yml."""
    from tm_docs.analysis.settings import Settings
    from tm_docs.pipeline import build_site

    settings = Settings(root=portfolio.root, models_dir=portfolio.root / "models", cache_dir=None)
    site = build_site(settings)
    docs = root / "docs"
    docs.mkdir(parents=True, exist_ok=True)
    (docs / "index.md").write_text(
        (portfolio.root / "docs" / "index.md").read_text(encoding="utf-8"), encoding="utf-8"
    )
    for generated in site.files:
        target = docs / generated.path
        target.parent.mkdir(parents=True, exist_ok=True)
        content = generated.content
        target.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    config = write_config(root, tm_docs=False, prune=prune)
    if site.stylesheet:
        # The same look: tm-docs' stylesheet and script as the site's own extra files.
        data = yaml.safe_load(config.read_text(encoding="utf-8"))
        data["extra_css"] = [site.layout.data_file("tm-docs.css")]
        data["extra_javascript"] = [site.layout.data_file("tm-docs.js")]
        config.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return config


def edit_model(portfolio: Portfolio, model_id: str, marker: str) -> str:
    """Change the title of the model's first threat to one that contains `marker`."""
    path = portfolio.model_file(model_id)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["threats"][0]["title"] = f"Edited threat {marker}"
    path.write_text(yaml.safe_dump(data, sort_keys=False, width=100), encoding="utf-8")
    return f"Edited threat {marker}"
