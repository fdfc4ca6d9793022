"""``acalab docs LAB``: the lab page's tables are rendered from lab.yaml, so page and test never drift.

The page (the lab's README.md) is prose written by people with marked blocks the command owns:
``<!-- BEGIN acalab:metadata -->`` ... ``<!-- END acalab:metadata -->`` (also ``hypothesis``,
``experiment-log``, ``pytest-runbook``). Everything outside the blocks is left as written.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from pathlib import Path

from pytest_acalab.labfile import LAB_FILE, load_lab
from pytest_acalab.labfile.model import Lab

BLOCK = re.compile(r"(<!-- BEGIN acalab:(?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- END acalab:(?P=name) -->)", re.S)


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ").strip()


def _table(header: Iterable[str], rows: Iterable[Iterable[object]]) -> str:
    head = list(header)
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def render_blocks(lab: Lab) -> dict[str, str]:
    md = lab.metadata
    folder = f"labs/{lab.folder.name}"
    return {
        "metadata": _table(["Field", "Value"], [
            ("Lab", lab.title), ("Difficulty", md.difficulty), ("Duration", md.duration), ("Tier", md.tier),
            ("Failure mode", md.failure_mode), ("Skills", ", ".join(md.skills)),
            ("Expected deployment outcome", lab.infra.expect), ("Lab file", f"`{folder}/lab.yaml`"),
        ]),
        "hypothesis": f"> {lab.hypothesis.statement}\n\n" + _table(
            ["Variable", "Control state", "Experimental state", "Checked by (failing / recovered)"],
            [(r.variable, r.control, r.experimental, f"`{r.item_id('failing')}` / `{r.item_id('recovered')}`")
             for r in lab.rows]),
        "experiment-log": _table(["Step", "Action", "Expected", "Actual", "Pass/Fail"],
                                 [(s.number, s.action, s.expected, "", "") for s in lab.experiment_log]),
        "pytest-runbook": "\n".join([
            "```bash",
            f"pytest {folder} -v                         # against the local emulator (default)",
            f"pytest {folder} -v --acalab-report-dir reports --junitxml reports/junit.xml",
            f"pytest {folder} --acalab-backend azure --acalab-subscription $AZURE_SUBSCRIPTION_ID",
            f"pytest {folder} -k failing                 # only the failing-state checks",
            "```",
        ]) + "\n",
    }


def render_page(lab: Lab, page: str) -> str:
    blocks = render_blocks(lab)

    def sub(m: re.Match[str]) -> str:
        body = blocks.get(m.group("name"))
        return m.group(0) if body is None else f"{m.group(1)}{body}{m.group(4)}"

    return BLOCK.sub(sub, page)


def render_lab_pages(labs: list[str], check: bool = False) -> int:
    """Render (or with ``check``, verify) each lab's README.md; returns the exit code."""
    stale = []
    for arg in labs:
        folder = Path(arg)
        lab = load_lab(folder / LAB_FILE if folder.is_dir() else folder)
        page_path = lab.folder / "README.md"
        if not page_path.is_file():
            raise ValueError(f"{page_path}: no lab page to render into (create it with the acalab blocks)")
        page = page_path.read_text(encoding="utf-8")
        rendered = render_page(lab, page)
        missing = set(render_blocks(lab)) - {m.group("name") for m in BLOCK.finditer(page)}
        if missing:
            raise ValueError(f"{page_path}: missing blocks {', '.join(sorted(missing))} "
                             "(<!-- BEGIN acalab:NAME --> ... <!-- END acalab:NAME -->)")
        if rendered != page:
            if check:
                stale.append(str(page_path))
            else:
                page_path.write_text(rendered, encoding="utf-8")
                print(f"rendered {page_path}")
        else:
            print(f"{page_path} is up to date")
    if stale:
        print(f"stale lab pages (run 'acalab docs {' '.join(labs)}'): {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0
