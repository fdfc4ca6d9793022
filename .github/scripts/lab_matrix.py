"""The nightly's matrix, generated from the labs folder: one shard per lab, each with its region.

    python .github/scripts/lab_matrix.py [--labs labs] [--regions "koreacentral,eastus"]

prints ``matrix=<JSON>`` for ``$GITHUB_OUTPUT``: ``{"include": [{"shard": "<lab>", "lab": "labs/<lab>",
"region": "<region or empty>"}, ...]}``. Regions are handed to the shards in turn; an empty list leaves
each lab in its own ``location``. ``--regions "lab=region,..."`` pins a lab to a region by name.
A folder is a lab when it holds a ``lab.yaml``, exactly as pytest-acalab collects it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def labs_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and (p / "lab.yaml").is_file())


def matrix(labs: list[str], regions: str, folder: str = "labs") -> dict[str, list[dict[str, str]]]:
    items = [r.strip() for r in regions.split(",") if r.strip()]
    pinned = dict(r.split("=", 1) for r in items if "=" in r)
    cycle = [r for r in items if "=" not in r]
    unknown = sorted(set(pinned) - set(labs))
    if unknown:
        raise ValueError(f"--regions names labs that do not exist: {', '.join(unknown)}")
    include = []
    for i, lab in enumerate(labs):
        region = pinned.get(lab) or (cycle[i % len(cycle)] if cycle else "")
        include.append({"shard": lab, "lab": f"{folder}/{lab}", "region": region})
    return {"include": include}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labs", default="labs", help="the labs folder (default: labs)")
    parser.add_argument("--regions", default="", help="comma-separated regions, or lab=region pairs")
    args = parser.parse_args(argv)
    labs = labs_in(Path(args.labs))
    if not labs:
        print(f"lab_matrix: no lab (a folder with a lab.yaml) under {args.labs}", file=sys.stderr)
        return 2
    try:
        print("matrix=" + json.dumps(matrix(labs, args.regions, args.labs.rstrip("/")), separators=(",", ":")))
    except ValueError as exc:
        print(f"lab_matrix: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
