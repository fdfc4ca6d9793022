"""Where a Bicep compiler is on PATH, the deployed template is compiled from main.bicep and drift is reported.

The compiler is the boundary: a small ``bicep`` executable written by the test prints a template, as
``bicep build --stdout main.bicep`` does.
"""

from __future__ import annotations

import json
import stat
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from helpers.livekit import copy_lab, empty_path_dir, groups
from pytest_acalab.emulator import Emulator
from pytest_acalab.lifecycle.bicep import template_drift

FAKE_BICEP = """\
#!{python}
import json, pathlib, sys
args = sys.argv[1:]
assert args[:2] == ["build", "--stdout"] and args[2].endswith("main.bicep"), args
mode = pathlib.Path({mode!r}).read_text().strip()
if mode == "fail":
    sys.stderr.write("main.bicep(12,5) : Error BCP018: Expected the \\"=\\" character at this location.\\n")
    sys.exit(1)
template = json.loads((pathlib.Path(args[2]).parent / "main.json").read_text())
template["metadata"]["_generator"] = {{"name": "bicep", "version": "0.99.0.0", "templateHash": "123"}}
if mode == "drift":
    template["outputs"]["compiledBy"] = {{"type": "string", "value": "bicep"}}
    template["parameters"]["baseName"]["defaultValue"] = "changed"
print(json.dumps(dict(reversed(list(template.items()))), indent=2))
"""


def _fake_bicep(tmp_path: Path, mode: str) -> str:
    """A directory holding a ``bicep`` executable (and nothing else), for PATH."""
    bin_dir = tmp_path / "fake-bin"
    bin_dir.mkdir()
    (tmp_path / "mode").write_text(mode)
    exe = bin_dir / "bicep"
    exe.write_text(FAKE_BICEP.format(python=sys.executable, mode=str(tmp_path / "mode")))
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    return str(bin_dir)


def _run(pytester: pytest.Pytester, emu: Emulator, path: str, monkeypatch: pytest.MonkeyPatch,
         drop_groups: list[str]) -> tuple[pytest.RunResult, ET.Element, dict]:
    from azure.mgmt.resource.deployments import DeploymentsMgmtClient

    lab = copy_lab(pytester.path, "acr_tag_deleted")
    monkeypatch.setenv("PATH", path)
    monkeypatch.delenv("ACALAB_BICEP", raising=False)
    before = set(groups(emu))
    junit = pytester.path / "junit.xml"
    result = pytester.runpytest(str(lab), "--junitxml", str(junit), "--acalab-keep")
    new = [g for name, g in groups(emu).items() if name not in before]
    drop_groups.extend(g.name for g in new)
    result.assert_outcomes(passed=9)
    client = DeploymentsMgmtClient(emu.credential(), emu.subscription_id, **emu.client_kwargs())
    outputs = client.deployments.get(new[0].name, "acalab-acr_tag_deleted").properties.outputs or {}
    return result, ET.parse(junit).getroot(), outputs


def _suite_properties(root: ET.Element) -> dict[str, str]:
    return {p.get("name"): p.get("value") for p in root.iter("property") if p.get("name", "").startswith(
        "acalab.bicep_drift")}


def _deployment_property(root: ET.Element) -> str | None:
    for case in root.iter("testcase"):
        if case.get("name") == "deployment":
            for prop in case.iter("property"):
                if prop.get("name") == "acalab.bicep":
                    return prop.get("value")
    return None


def test_drift_is_reported_and_the_compiled_template_deployed(
        pytester: pytest.Pytester, attached: Emulator, tmp_path: Path, drop_groups: list[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    result, junit, outputs = _run(pytester, attached, _fake_bicep(tmp_path, "drift"), monkeypatch, drop_groups)
    result.stdout.fnmatch_lines([
        "WARNING: */infra/main.json has drifted from main.bicep (compiled with bicep; the compiled template was "
        'deployed): parameters.baseName.defaultValue: main.bicep gives "changed", main.json has "labacr"; '
        "outputs.compiledBy: in main.bicep only"])
    assert "compiledBy" in outputs  # what ran is the compiled template
    suite = _suite_properties(junit)
    assert list(suite) == ["acalab.bicep_drift.acr_tag_deleted"]
    assert "outputs.compiledBy" in suite["acalab.bicep_drift.acr_tag_deleted"]
    assert "has drifted" in (_deployment_property(junit) or "")


def test_a_matching_template_is_deployed_without_a_warning(
        pytester: pytest.Pytester, attached: Emulator, tmp_path: Path, drop_groups: list[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    result, junit, outputs = _run(pytester, attached, _fake_bicep(tmp_path, "match"), monkeypatch, drop_groups)
    assert "WARNING" not in result.stdout.str() and _suite_properties(junit) == {}
    assert _deployment_property(junit) == "main.json matches main.bicep compiled with bicep"
    assert "compiledBy" not in outputs


def test_a_compile_error_falls_back_to_the_committed_json(
        pytester: pytest.Pytester, attached: Emulator, tmp_path: Path, drop_groups: list[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    result, junit, outputs = _run(pytester, attached, _fake_bicep(tmp_path, "fail"), monkeypatch, drop_groups)
    result.stdout.fnmatch_lines(["WARNING: */infra/main.bicep: 'bicep' could not compile it (exit code 1: "
                                 "main.bicep(12,5) : Error BCP018: *); deployed the committed main.json as is"])
    assert list(_suite_properties(junit)) == ["acalab.bicep_drift.acr_tag_deleted"]


def test_without_a_compiler_main_json_is_deployed_as_is(
        pytester: pytest.Pytester, attached: Emulator, tmp_path: Path, drop_groups: list[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    result, junit, _ = _run(pytester, attached, empty_path_dir(tmp_path), monkeypatch, drop_groups)
    assert "WARNING" not in result.stdout.str()
    assert _deployment_property(junit) is None and _suite_properties(junit) == {}


def test_drift_is_semantic() -> None:
    base = {"metadata": {"_generator": {"version": "1"}}, "parameters": {"a": {"type": "string"}},
            "resources": [{"type": "Microsoft.App/containerApps", "name": "app", "properties": {"x": 1},
                           "metadata": {"_generator": {"version": "1"}}}],
            "outputs": {}}
    reordered = json.loads(json.dumps(dict(reversed(list(base.items())))))
    reordered["metadata"]["_generator"]["version"] = "2"
    reordered["resources"][0]["metadata"]["_generator"]["version"] = "2"
    assert template_drift(reordered, base) == []
    changed = json.loads(json.dumps(base))
    changed["resources"][0]["properties"]["x"] = 2
    changed["resources"].append({"type": "Microsoft.App/managedEnvironments", "name": "env"})
    assert template_drift(changed, base) == ["resources: 2 entries compiled from main.bicep, 1 in main.json"]
    changed["resources"].pop()
    assert template_drift(changed, base) == [
        "resources[0] Microsoft.App/containerApps app.properties.x: main.bicep gives 2, main.json has 1"]


def test_az_is_used_when_bicep_is_not_on_path_but_installed_for_az(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from pytest_acalab.lifecycle.bicep import compiler_command

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    az = bin_dir / "az"
    az.write_text("#!/bin/sh\nexit 0\n")
    az.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.delenv("ACALAB_BICEP", raising=False)
    config = tmp_path / "azure-config"
    monkeypatch.setenv("AZURE_CONFIG_DIR", str(config))
    assert compiler_command(Path("main.bicep")) is None  # az would download Bicep first: not used
    (config / "bin").mkdir(parents=True)
    (config / "bin" / "bicep").write_text("")
    assert compiler_command(Path("main.bicep")) == [str(az), "bicep", "build", "--file", "main.bicep", "--stdout"]
    monkeypatch.setenv("ACALAB_BICEP", "off")
    assert compiler_command(Path("main.bicep")) is None

