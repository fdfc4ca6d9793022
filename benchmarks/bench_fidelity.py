"""Fidelity: the share of recorded Azure interactions the emulator answers as Azure answered.

    python -m benchmarks.bench_fidelity

Replays every cassette under ``tests/contract/recordings`` (``pytest_acalab.emulator.fidelity``): status
code, long-running-operation headers and body keys per interaction, polling excluded. Target: >= 98 %.
Not a speed figure: it sits here so that ``benchmarks/results.json`` carries it beside them.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from benchmarks import ROOT, figure

GROUP = "fidelity"
RECORDINGS = ROOT / "tests" / "contract" / "recordings"
TARGET = 98.0


def bench(cassettes: int | None = None) -> dict[str, Any]:
    """``cassettes``: replay only the first N (the smoke size); the figure is the full set's otherwise."""
    from pytest_acalab.emulator import fidelity

    results, drifted = fidelity.replay_all(RECORDINGS, limit=cassettes)
    scored = sum(r.scored for r in results)
    matched = sum(r.matched for r in results)
    rate = matched / scored * 100
    main = figure(GROUP, "replay_match_rate", rate, "%", target=TARGET, op=">=",
                  note=f"{matched} of {scored} recorded interactions in {len(results)} cassettes (polling excluded)")
    per = [figure(GROUP, f"replay_{r.name.replace('/', '_').removesuffix('.yaml')}", r.rate * 100, "%",
                  note=f"{r.matched}/{r.scored}") for r in results]
    return {
        "summary": [f"Fidelity replay of {len(results)} recorded cassettes: {rate:.1f} % of {scored} interactions "
                    f"answered as Azure answered (status, LRO headers, body keys; target >= {TARGET:g} %: "
                    f"{'met' if main['met'] else 'MISSED'})"],
        "figures": [main, *per],
        "details": {"mismatches": {r.name: [f"[{v.index}] {v.method} {v.uri[:120]}: {'; '.join(v.problems)}"
                                            for v in r.mismatches()] for r in results if r.mismatches()},
                    "azure_drift_not_scored": [f"{' '.join(map(str, g))}: {' '.join(sorted(k))}"
                                               for g, k in sorted(drifted.items())]},
    }


def main() -> None:
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    print(json.dumps(bench(), indent=2))


if __name__ == "__main__":
    main()
