"""Probes and actions added from outside the package (a lab's conftest.py, a plugin) work like built-ins:
checked when the lab file loads, run by the same runner; and the ``lab_action`` fixture runs any action."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from helpers.labkit import HOLDS, write_lab

FAST = ("--acalab-min-wait", "1s", "-p", "no:cacheprovider")

CONFTEST = textwrap.dedent('''\
    import pytest
    from pytest_acalab.probes.base import Observation

    def registry_sku(ctx, args, deadline):
        sku = ctx.resource(args["registry"], refresh=True).body["sku"]["name"]
        return Observation(sku, "registry (ARM)", f"sku {sku}")

    @pytest.hookimpl
    def pytest_acalab_register_probes(registry):
        registry.add("registry_sku", registry_sku, args={
            "type": "object", "additionalProperties": False, "required": ["registry"],
            "properties": {"registry": {"$ref": "#/$defs/registry_alias"}}})
    ''')

PLUGIN = textwrap.dedent('''\
    import pytest
    from pytest_acalab.actions.base import Outcome

    def remember(ctx, args, deadline, action):
        return Outcome.succeeded(f"noted {args['text']}", text=args["text"])

    @pytest.hookimpl
    def pytest_acalab_register_actions(registry):
        registry.add("remember", remember, args={"type": "object", "required": ["text"],
                                                 "properties": {"text": {"type": "string"}}})
    ''')

SKU_ROW = """\
    - key: sku
      variable: Registry SKU
      control: Basic
      experimental: Basic
      failing:
        probe: registry_sku
        with: {registry: registry}
        expect: {equals: Basic}
      recovered:
        action: note
        expect: {equals: Succeeded}
"""


def _lab(root: Path, rows: str = HOLDS + SKU_ROW, note: str = "{text: '${run.id}'}") -> Path:
    folder = write_lab(root, "ext", rows=rows)
    (folder / "conftest.py").write_text(CONFTEST)
    (root / "acalab_remember.py").write_text(PLUGIN)
    lab = folder / "lab.yaml"
    lab.write_text(lab.read_text().replace("recovery:\n", f"recovery:\n  - id: note\n    action: remember\n"
                                                         f"    with: {note}\n", 1))
    return folder


def test_a_conftest_probe_and_a_plugin_action_run_like_built_ins(pytester: pytest.Pytester) -> None:
    _lab(pytester.path)
    pytester.syspathinsert()
    result = pytester.runpytest("labs", "-v", "-p", "acalab_remember", "--acalab-report-dir=reports", *FAST)
    result.assert_outcomes(passed=7)
    result.stdout.fnmatch_lines(["*lab.yaml::sku?failing? PASSED*", "*lab.yaml::sku?recovered? PASSED*"])
    journal = (pytester.path / "reports" / "ext" / "journal.json").read_text()
    assert '"registry_sku"' in journal and '"remember"' in journal


def test_an_unknown_probe_is_one_collection_error_with_file_and_line(pytester: pytest.Pytester) -> None:
    folder = _lab(pytester.path, rows=HOLDS + SKU_ROW.replace("probe: registry_sku", "probe: registry_skus"))
    line = next(i for i, text in enumerate((folder / "lab.yaml").read_text().splitlines(), 1)
                if "registry_skus" in text)
    pytester.syspathinsert()
    result = pytester.runpytest("labs", "--collect-only", "-q", "-p", "acalab_remember")
    out = result.stdout.str()
    assert re.search(rf"labs/ext/lab\.yaml:{line}: hypothesis\.rows\[2\]\.failing\.probe: expected one of "
                     r"revision_health, .*, registry_sku \(the probes registered\); got 'registry_skus' "
                     r"\(did you mean 'registry_sku'\?\)", out), out
    assert out.count("ERROR collecting") == 1 and "Traceback" not in out


def test_an_action_the_run_does_not_know_is_a_collection_error(pytester: pytest.Pytester) -> None:
    _lab(pytester.path)
    result = pytester.runpytest("labs", "--collect-only", "-q")  # the plugin that adds 'remember' is not loaded
    result.stdout.fnmatch_lines(["*labs/ext/lab.yaml:*: recovery[[]0[]].action: expected one of deploy, *;"
                                 " got 'remember'*"])


def test_extension_arguments_are_checked_against_their_schema(pytester: pytest.Pytester) -> None:
    _lab(pytester.path, note="{txt: hello}")
    pytester.syspathinsert()
    result = pytester.runpytest("labs", "--collect-only", "-q", "-p", "acalab_remember")
    result.stdout.fnmatch_lines(["*labs/ext/lab.yaml:*: recovery[[]0[]].with.text: expected required key 'text';"
                                 " got no 'text' key in recovery[[]0[]].with*"])


def test_a_probe_added_by_a_conftest_elsewhere_is_unknown_here(pytester: pytest.Pytester) -> None:
    """A conftest.py adds words for the folders below it only, as pytest's hooks do."""
    _lab(pytester.path)
    other = write_lab(pytester.path, "other", rows=HOLDS + SKU_ROW.replace("action: note", "action: deploy"))
    assert not (other / "conftest.py").exists()
    pytester.syspathinsert()
    result = pytester.runpytest("labs", "--collect-only", "-q", "-p", "acalab_remember")
    result.stdout.fnmatch_lines(["*ext/lab.yaml::sku?failing?*",
                                 "*labs/other/lab.yaml:*: hypothesis.rows[[]2[]].failing.probe: expected one of *;"
                                 " got 'registry_sku'*"])


def test_the_lab_action_fixture_runs_an_action_and_keeps_its_result(pytester: pytest.Pytester) -> None:
    folder = write_lab(pytester.path, "fixture")
    (folder / "test_more.py").write_text(textwrap.dedent("""\
        def test_import_another_tag(lab_action, lab_probe, lab_context):
            result = lab_action("acr_import", registry="registry",
                                source="mcr.microsoft.com/k8se/quickstart:latest", image="quickstart:extra")
            assert result.status == "Succeeded", result.detail
            assert lab_context.action_results[result.id] is result
            assert lab_probe("image_tag", registry="registry", repository="quickstart", tag="extra").value == "present"
            again = lab_action("acr_import", registry="registry",
                               source="mcr.microsoft.com/k8se/no-such-image:latest", image="quickstart:none")
            assert again.status == "Failed" and again.id != result.id
        """))
    result = pytester.runpytest("labs", "-v", *FAST)
    result.assert_outcomes(passed=6)
