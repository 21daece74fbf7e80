"""How long loading and validating models takes, for growing model sizes.

Generates synthetic models with N components (and N flows, N threats) in a
temporary folder and reports the time `load_models` takes per model.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import yaml

from tm_docs.load.models import load_models


def synthetic_model(model_id: str, size: int) -> dict[str, object]:
    components = [
        {"id": f"c{i}", "title": f"Component {i}", "kind": "process", "boundary": "b0"}
        for i in range(size)
    ]
    flows = [
        {"id": f"f{i}", "source": f"c{i}", "destination": f"c{(i + 1) % size}", "encrypted": True}
        for i in range(size)
    ]
    threats = [
        {
            "id": f"t{i}",
            "title": f"Threat {i}",
            "categories": ["tampering"],
            "targets": [f"f{i}"],
            "impact": 1 + i % 5,
            "likelihood": 1 + (i * 3) % 5,
            "mitigations": [f"m{i}"],
        }
        for i in range(size)
    ]
    mitigations = [{"id": f"m{i}", "title": f"Fix {i}", "owner": "team"} for i in range(size)]
    return {
        "format_version": 1,
        "id": model_id,
        "title": model_id,
        "owner": "team",
        "boundaries": [{"id": "b0", "title": "Zone", "trust": "internal"}],
        "components": components,
        "flows": flows,
        "threats": threats,
        "mitigations": mitigations,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", type=int, default=20, help="models per size")
    parser.add_argument("--sizes", type=int, nargs="+", default=[8, 40, 150])
    args = parser.parse_args()
    print(f"{'components':>10} {'models':>7} {'total s':>9} {'ms/model':>9}")
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            for n in range(args.models):
                text = yaml.safe_dump(synthetic_model(f"m{n}", size), sort_keys=False)
                (folder / f"m{n}.yaml").write_text(text)
            start = time.perf_counter()
            result = load_models([folder])
            elapsed = time.perf_counter() - start
            assert result.ok, result.problems[:3]
            print(
                f"{size:>10} {args.models:>7} {elapsed:>9.3f} {elapsed / args.models * 1e3:>9.1f}"
            )


if __name__ == "__main__":
    main()
