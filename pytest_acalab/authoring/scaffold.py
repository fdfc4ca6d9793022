"""``acalab new NAME``: a lab folder that collects and passes on the emulator, to start a new lab from.

The scaffold is a complete small lab (one hypothesis row): Bicep and the ARM JSON compiled from it, a
workload to build, lab.yaml, and its page with the blocks ``acalab docs`` fills (already rendered). Nothing
is written when the name is not a valid lab id or the folder exists.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from pytest_acalab.labfile import LAB_FILE

LAB_ID = re.compile(r"^[a-z0-9_-]+$")
"""The lab id pattern of lab.schema.json."""

FILES = {
    "lab.yaml.j2": LAB_FILE,
    "main.bicep.j2": "infra/main.bicep",
    "main.json.j2": "infra/main.json",
    "Dockerfile.j2": "workload/Dockerfile",
    "app.py.j2": "workload/app.py",
    "dockerignore.j2": "workload/.dockerignore",
    "README.md.j2": "README.md",
}
"""Template → file in the new lab folder."""


def base_name(lab_id: str) -> str:
    """Resource base name and image repository: letters and digits only (registry names allow nothing else)."""
    letters = re.sub(r"[^a-z0-9]", "", lab_id.lower())[:10]
    return letters if len(letters) >= 3 and letters[0].isalpha() else f"lab{letters}"[:10]


def new_lab(name: str, parent: Path) -> Path:
    """Write the lab ``parent/name``; returns its folder. ``ValueError`` (nothing written) on a bad name or path."""
    # Jinja2 loads only when a page is rendered, not at pytest --version or collection
    from jinja2 import Environment, PackageLoader, StrictUndefined

    # loaded only on this path (a command or report most runs never reach)
    # loaded only on this path, keeping pytest --version and collection light
    from pytest_acalab.labfile import load_lab
    from pytest_acalab.reports.labpage import display_path, render_page

    if not LAB_ID.match(name):
        raise ValueError(f"'{name}' is not a valid lab name: use lower-case letters, digits, '-' and '_' "
                         "(it becomes the lab id and the folder name)")
    folder = parent / name
    if folder.exists():
        raise ValueError(f"{folder} already exists: choose another name or remove it first")
    schema = Path(__file__).resolve().parents[1] / "labfile" / "lab.schema.json"
    env = Environment(loader=PackageLoader("pytest_acalab.authoring", "templates"), undefined=StrictUndefined,
                      keep_trailing_newline=True, autoescape=False)
    values = {
        "id": name, "title": f"{name.replace('_', ' ').replace('-', ' ').capitalize()} lab", "base": base_name(name),
        "schema": os.path.relpath(schema, folder.resolve()),
        "folder": display_path(folder.resolve()),
    }
    rendered = {target: env.get_template(template).render(**values) for template, target in FILES.items()}
    folder.mkdir(parents=True)
    for target, text in rendered.items():
        path = folder / target
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    page = folder / "README.md"
    page.write_text(render_page(load_lab(folder), page.read_text(encoding="utf-8")), encoding="utf-8")
    return folder
