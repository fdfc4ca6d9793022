"""``acalab docs LAB``: the lab page's tables are rendered from lab.yaml, so page and test never drift.

The page (the lab's README.md) is prose written by people with marked blocks the command owns:
``<!-- BEGIN acalab:metadata -->`` ... ``<!-- END acalab:metadata -->`` (also ``hypothesis``,
``experiment-log``, ``pytest-runbook``: see ``BLOCKS``). Everything outside the blocks is left as written.
A page that lacks blocks gets them appended under a heading each; a lab without a page gets one.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from pathlib import Path

from pytest_acalab.labfile import LAB_FILE, load_lab
from pytest_acalab.labfile.model import Lab

BLOCKS = {
    "metadata": ("Lab", "the lab's facts: title, difficulty, duration, tier, failure mode, skills, expected "
                        "deployment outcome, lab file"),
    "hypothesis": ("Hypothesis", "the hypothesis statement and its Variable / Control state / Experimental state "
                                 "table, with the pytest items that check each row"),
    "pytest-runbook": ("Runbook", "the pytest commands that run the lab (emulator, reports, Azure, failing only)"),
    "experiment-log": ("Experiment log", "the Step / Action / Expected / Actual / Pass-Fail table, Actual and "
                                         "Pass/Fail left empty (a run fills them in its reports)"),
}
"""Block name → (heading it gets when appended, what it holds). Documented in docs/lab-format.md."""

PROJECT_MARKERS = (".git", "pyproject.toml", "pytest.ini", "setup.cfg", "tox.ini")

BLOCK = re.compile(r"(<!-- BEGIN acalab:(?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- END acalab:(?P=name) -->)", re.S)


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ").strip()


def _table(header: Iterable[str], rows: Iterable[Iterable[object]]) -> str:
    head = list(header)
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def display_path(folder: Path) -> str:
    """How a page names its lab folder: relative to the project it is in (the nearest folder with a ``.git``,
    ``pyproject.toml`` or pytest ini), else relative to the current directory, else absolute."""
    folder = folder.resolve()
    for root in folder.parents:
        if any((root / marker).exists() for marker in PROJECT_MARKERS):
            return folder.relative_to(root).as_posix()
    try:
        return folder.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return folder.as_posix()


def render_blocks(lab: Lab) -> dict[str, str]:
    md = lab.metadata
    folder = display_path(lab.folder)
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


def add_missing_blocks(page: str, names: Iterable[str]) -> str:
    """``page`` with an empty block appended for each of ``names``, under its heading (filled by render_page)."""
    out = page.rstrip("\n") + "\n"
    for name in names:
        heading = BLOCKS[name][0]
        out += f"\n## {heading}\n\n<!-- BEGIN acalab:{name} -->\n<!-- END acalab:{name} -->\n"
    return out


def render_lab_pages(labs: list[str], check: bool = False) -> int:
    """Render (or with ``check``, verify) each lab's README.md; returns the exit code.

    Without ``check``, a missing page is created and a page without some blocks gets them appended.
    """
    stale = []
    for arg in labs:
        folder = Path(arg)
        lab = load_lab(folder / LAB_FILE if folder.is_dir() else folder)
        page_path = lab.folder / "README.md"
        page = page_path.read_text(encoding="utf-8") if page_path.is_file() else None
        present = {m.group("name") for m in BLOCK.finditer(page or "")}
        missing = [name for name in BLOCKS if name not in present]
        if check and (page is None or missing):
            what = "no lab page" if page is None else f"no blocks {', '.join(missing)}"
            print(f"{page_path}: {what} (run 'acalab docs {arg}' to add them)", file=sys.stderr)
            stale.append(str(page_path))
            continue
        if page is None:
            page = f"# Lab: {lab.title}\n"
            print(f"created {page_path}")
        if missing:
            page = add_missing_blocks(page, missing)
            print(f"{page_path}: added the blocks {', '.join(missing)}")
        rendered = render_page(lab, page)
        original = page_path.read_text(encoding="utf-8") if page_path.is_file() else None
        if rendered != original:
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
