"""Run every benchmark group, print a table and write ``benchmarks/results.json``.

    python -m benchmarks                 # everything (about a minute and a half on 2 cores)
    python -m benchmarks --only labs     # one group (repeatable); the other groups keep their last figures
    python -m benchmarks --quick         # the smoke sizes: checks that every benchmark still runs
    python -m benchmarks --output F      # write elsewhere

Each group runs in a fresh interpreter of its own (``--child``), so what one group leaves in memory
(100,000 log rows, imported SDKs) cannot slow the next; they share one private bytecode cache.
Exit status 0 even when a figure misses its target (figures are reported, never asserted); 1 when a
group could not run at all.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks import GROUPS, PYCACHE_VAR, RESULTS, ROOT, build_document, kept_groups, pycache_dir, run_group

CHILD_TIMEOUT = 900.0


def run_isolated(name: str, quick: bool) -> dict[str, Any]:
    """``run_group`` in a fresh interpreter; a crash or a timeout becomes the group's ``error``."""
    cmd = [sys.executable, "-m", "benchmarks", "--child", name, *(["--quick"] if quick else [])]
    env = {**os.environ, PYCACHE_VAR: pycache_dir()}
    sizes = {**GROUPS[name][1], **(GROUPS[name][2] if quick else {})}
    try:
        proc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True, timeout=CHILD_TIMEOUT)
        if proc.returncode == 0:
            return json.loads(proc.stdout)
        error = f"the group's interpreter exited {proc.returncode} (its stderr is above)"
    except subprocess.TimeoutExpired:
        error = f"the group did not finish within {CHILD_TIMEOUT:g} s"
    except ValueError as exc:
        error = f"the group's interpreter printed no result JSON: {exc}"
    return {"group": name, "sizes": sizes, "seconds": None, "error": error, "summary": [], "figures": [],
            "details": {}}


def table(doc: dict[str, Any]) -> str:
    rows = [("group", "figure", "value", "target", "met")]
    for fig in doc["results"]:
        value = "n/a" if fig["value"] is None else f"{fig['value']:g} {fig['unit']}"
        met = {True: "yes", False: "NO", None: "-"}[fig["met"]]
        rows.append((fig["group"], fig["name"], value, fig["target"] or "-", met))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", action="append", choices=list(GROUPS), help="run only this group (repeatable)")
    parser.add_argument("--quick", action="store_true", help="smoke sizes (seconds, not minutes)")
    parser.add_argument("--output", type=Path, default=RESULTS, help=f"default: {RESULTS}")
    parser.add_argument("--child", choices=list(GROUPS), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:  # one group, its result as JSON on stdout, for the parent runner
        print(json.dumps(run_group(args.child, **(GROUPS[args.child][2] if args.quick else {})), default=str))
        return 0

    started = time.perf_counter()
    results = []
    for name in args.only or list(GROUPS):
        print(f"running {name} ...", file=sys.stderr, flush=True)
        result = run_isolated(name, args.quick)
        state = f"error: {result['error']}" if result["error"] else f"{len(result['figures'])} figures"
        print(f"  {name}: {state} ({result['seconds'] or 0:.1f} s)", file=sys.stderr, flush=True)
        results.append(result)
    if args.only and args.output.is_file():  # the groups not run keep their last figures
        previous = json.loads(args.output.read_text(encoding="utf-8"))
        if previous.get("quick") == args.quick:
            results = [*kept_groups(previous, args.only), *results]
            results.sort(key=lambda g: list(GROUPS).index(g["group"]) if g["group"] in GROUPS else len(GROUPS))
    doc = build_document(results, quick=args.quick, started=started)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")

    print()
    print(table(doc))
    print()
    for line in doc["figures"]:
        print(f"- {line}")
    machine = doc["machine"]
    print(f"\n{machine['cores']} cores ({machine['cpu']}), Python {machine['python']}, {machine['date']}; "
          f"{doc['total_seconds']} s in all; written to {args.output}")
    return 1 if any(r["error"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
