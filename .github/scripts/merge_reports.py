"""The nightly's final report: every shard's junit merged into one file, and the experiment logs in one summary.

    python .github/scripts/merge_reports.py SHARDS_DIR OUT_DIR

``SHARDS_DIR`` holds one folder per shard (the downloaded ``lab-reports-<shard>`` artifacts), each with
``junit.xml``, ``shard.json`` (shard, lab, region, outcome of its login) and ``<lab>/experiment-log.md``.
Writes ``OUT_DIR/junit.xml`` (one ``<testsuites>`` with every shard's suites, totals summed) and
``OUT_DIR/summary.md`` (a table of the shards, then each lab's experiment log), and prints the summary.
A shard that left no junit (its job failed before pytest ran) is listed as such, never dropped.
"""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

TOTALS = ("tests", "failures", "errors", "skipped")


def merge_junit(files: list[Path]) -> ET.Element:
    merged = ET.Element("testsuites", {"name": "pytest-acalab nightly"})
    sums = dict.fromkeys(TOTALS, 0)
    time = 0.0
    for path in files:
        root = ET.parse(path).getroot()
        for suite in ([root] if root.tag == "testsuite" else list(root.iter("testsuite"))):
            suite.set("name", f"{path.parent.name}")
            merged.append(suite)
            for key in TOTALS:
                sums[key] += int(suite.get(key, "0"))
            time += float(suite.get("time", "0") or 0)
    for key, value in sums.items():
        merged.set(key, str(value))
    merged.set("time", f"{time:.3f}")
    return merged


def shard_row(folder: Path) -> tuple[str, str]:
    meta = json.loads((folder / "shard.json").read_text()) if (folder / "shard.json").is_file() else {}
    name = meta.get("shard", folder.name.removeprefix("lab-reports-"))
    junit = folder / "junit.xml"
    if not junit.is_file():
        return name, f"| {name} | {meta.get('region') or 'lab default'} | no junit: the shard stopped before its " \
                     f"labs ran (login {meta.get('login', 'unknown')}) |"
    suite = merge_junit([junit])
    counts = ", ".join(f"{k} {suite.get(k)}" for k in TOTALS)
    return name, f"| {name} | {meta.get('region') or 'lab default'} | {counts} |"


def main(shards_dir: Path, out_dir: Path) -> int:
    folders = sorted(p for p in shards_dir.iterdir() if p.is_dir())
    out_dir.mkdir(parents=True, exist_ok=True)
    junits = [f / "junit.xml" for f in folders if (f / "junit.xml").is_file()]
    ET.ElementTree(merge_junit(junits)).write(out_dir / "junit.xml", encoding="utf-8", xml_declaration=True)
    lines = ["# Nightly labs against Azure", "", "| shard | region | result |", "|---|---|---|"]
    lines += [shard_row(f)[1] for f in folders]
    if not folders:
        lines.append("| (none) | | no shard uploaded a report |")
    for log in sorted(shards_dir.glob("*/*/experiment-log.md")):
        lines += ["", log.read_text(encoding="utf-8").rstrip()]
    summary = "\n".join(lines) + "\n"
    (out_dir / "summary.md").write_text(summary, encoding="utf-8")
    sys.stdout.write(summary)
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
