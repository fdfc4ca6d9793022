"""The plugin end to end through pytester: items, outcomes, reports, teardown, against the emulator."""

from __future__ import annotations

import json
import re

import pytest
from junitparser import JUnitXml

from helpers.labkit import HOLDS, write_lab

FAST = ("--acalab-min-wait", "1s", "-p", "no:cacheprovider")


def test_a_lab_whose_hypothesis_holds(pytester: pytest.Pytester) -> None:
    write_lab(pytester.path, "tiny")
    junit = pytester.path / "junit.xml"
    result = pytester.runpytest("labs", "-v", f"--junitxml={junit}", "--acalab-report-dir=reports", *FAST)
    result.assert_outcomes(passed=5)
    result.stdout.fnmatch_lines([
        "*lab.yaml::deployment PASSED*",
        "*lab.yaml::image-tag?failing? PASSED*",
        "*lab.yaml::image-tag?recovered? PASSED*",
        "*experiment log: tiny*",
        "2 *Import the*Succeeded*Succeeded*Pass",  # the experiment log wraps its cells, never cuts them
        "*deleted resource group 'acalab-tiny-*",
    ])
    # junit: properties per testcase, suite properties from the controller
    xml = JUnitXml.fromfile(str(junit))
    suite = next(iter(xml))
    suite_props = {p.name: p.value for p in suite.properties()}
    assert suite_props["acalab.backend"] == "emulator"
    assert "version.azure-mgmt-appcontainers" in suite_props
    assert "| 2 | Import the image | Succeeded | Succeeded" in suite_props["acalab.experiment_log.tiny"]
    case = next(c for c in suite if c.name == "image-tag[recovered]")
    props = {p.get("name"): p.get("value") for p in case._elem.iter("property")}
    assert props["acalab.lab"] == "tiny" and props["acalab.phase"] == "recovered"
    assert props["acalab.actual"] == "'present'" and "equals 'present'" in props["acalab.expected"]
    assert props["acalab.evidence_source"] == "registry"
    assert int(props["acalab.attempts"]) >= 1
    # report directory: the experiment log as Markdown and the journal as JSON
    log = (pytester.path / "reports" / "tiny" / "experiment-log.md").read_text()
    assert "| 2 | Import the image | Succeeded | Succeeded" in log and "| Pass |" in log
    journal = json.loads((pytester.path / "reports" / "tiny" / "journal.json").read_text())
    kinds = {e["kind"] for e in journal["entries"]}
    assert {"lifecycle", "deploy", "action", "probe"} <= kinds
    assert any(e["name"] == "delete-group" for e in journal["entries"])



def test_a_user_with_nothing_but_pytest_and_the_plugin_gets_no_warning(pytester: pytest.Pytester,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """No xdist installed: the lab's items carry no xdist mark, which --strict-markers would refuse."""
    write_lab(pytester.path, "tiny")
    # a subprocess loading pytest-acalab alone (pytest.mark is process-global, and the outer run has xdist)
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    result = pytester.runpytest_subprocess("labs", "-p", "pytest_acalab.plugin", "--strict-markers", "-W", "error",
                                           *FAST)
    result.assert_outcomes(passed=5)
    assert "warnings summary" not in result.stdout.str()


def test_a_failing_state_that_never_appears_fails_clearly_and_still_recovers_and_tears_down(
        pytester: pytest.Pytester) -> None:
    rows = HOLDS.replace("""        expect: {equals: absent}
      recovered:
        probe: image_tag
        with: {registry: registry, repository: quickstart, tag: latest}""", """        expect: {equals: present}
        within: 2s
      recovered:
        probe: image_tag
        with: {registry: registry, repository: quickstart, tag: latest}""", 1)
    write_lab(pytester.path, "never", rows=rows)
    result = pytester.runpytest("labs", "-v", "--acalab-report-dir=reports", *FAST)
    result.assert_outcomes(passed=4, failed=1)
    result.stdout.fnmatch_lines([
        "*image-tag?failing? FAILED*",
        "*image-tag?recovered? PASSED*",
        "*lab.yaml:*: image-tag[[]failing[]] (Image tag): "
        "expected image_tag(repository=quickstart, tag=latest) equals 'present', got 'absent'*",
        "*evidence: registry after * attempt(s) in *s",
        "*excerpt: *quickstart:latest not found*",
        "*deleted resource group*",
    ])
    results = json.loads((pytester.path / "reports" / "never" / "results.json").read_text())
    assert results["summary"]["actions"]["import"]["status"] == "Succeeded"
    assert results["items"]["image-tag[failing]"]["outcome"] == "failed"


def test_a_probe_that_cannot_run_is_an_error_not_a_failure(pytester: pytest.Pytester) -> None:
    rows = HOLDS + """\
    - key: app-health
      variable: App
      control: Healthy
      experimental: none
      failing:
        probe: revision_health
        with: {app: app}
        expect: {equals: Healthy}
      recovered:
        probe: revision_health
        with: {app: app}
        expect: {equals: Healthy}
"""
    folder = write_lab(pytester.path, "broken-probe", rows=rows)
    text = (folder / "lab.yaml").read_text().replace(
        "    registry: Microsoft.ContainerRegistry/registries",
        "    registry: Microsoft.ContainerRegistry/registries\n    app: Microsoft.App/containerApps")
    (folder / "lab.yaml").write_text(text)
    result = pytester.runpytest("labs", "-v", *FAST)
    result.assert_outcomes(passed=5, errors=2)
    result.stdout.fnmatch_lines(["*app-health?failing? ERROR*", "*no resource 'app'*"])
    assert "Traceback" not in result.stdout.str()


def test_a_malformed_lab_gives_one_collection_error_and_the_others_still_collect(
        pytester: pytest.Pytester) -> None:
    write_lab(pytester.path, "good")
    bad = write_lab(pytester.path, "bad")
    (bad / "lab.yaml").write_text((bad / "lab.yaml").read_text().replace("variable: Image tag", "varable: Image tag"))
    result = pytester.runpytest("labs", "--collect-only", "-q")
    result.stdout.fnmatch_lines(["*labs/good/lab.yaml::deployment*", "*1 error*"])
    out = result.stdout.str()
    assert re.search(r"labs/bad/lab\.yaml:\d+: hypothesis\.rows\[0\]", out), out
    assert out.count("ERROR collecting") == 1 and "Traceback" not in out
    ran = pytester.runpytest("labs", "--continue-on-collection-errors", *FAST)
    ran.assert_outcomes(passed=5, errors=1)


def test_selection_by_keyword_and_marker(pytester: pytest.Pytester) -> None:
    write_lab(pytester.path, "tiny")
    result = pytester.runpytest("labs", "--collect-only", "-q", "-m", "recovered")
    result.stdout.fnmatch_lines(["*image-tag?recovered?", "*import-result?recovered?", "*2/5 tests collected*"])
    by_k = pytester.runpytest("labs/tiny/lab.yaml", "--collect-only", "-q", "-k", "import-result")
    by_k.stdout.fnmatch_lines(["*2/5 tests collected*"])


def test_failure_location_points_at_the_rows_line(pytester: pytest.Pytester) -> None:
    rows = HOLDS.replace("expect: {equals: absent}", "expect: {equals: present}\n        within: 1s", 1)
    folder = write_lab(pytester.path, "where", rows=rows)
    line = next(i for i, text in enumerate((folder / "lab.yaml").read_text().splitlines(), 1)
                if "key: image-tag" in text)
    result = pytester.runpytest("labs", "-q", "-rf", *FAST)
    result.stdout.fnmatch_lines([f"*labs/where/lab.yaml:{line}: image-tag*"])


def test_ordinary_test_files_in_a_lab_folder_use_the_lab_fixtures(pytester: pytest.Pytester) -> None:
    folder = write_lab(pytester.path, "withpy")
    (folder / "test_extra.py").write_text(
        "def test_registry_is_basic(lab_resources, lab_probe, lab_context):\n"
        "    assert lab_resources['registry'].body['sku']['name'] == 'Basic'\n"
        "    obs = lab_probe('image_tag', registry='registry', repository='nothing', tag='x')\n"
        "    assert obs.value == 'absent'\n"
        "    assert lab_context.resolve('${registry.loginServer}').endswith('.azurecr.io')\n")
    result = pytester.runpytest("labs", "-v", *FAST)
    result.assert_outcomes(passed=6)
    # one group for the YAML items and the Python test, deleted once after both
    assert result.stdout.str().count("deleted resource group") == 1


def test_long_waits_say_what_they_wait_for(pytester: pytest.Pytester) -> None:
    rows = HOLDS.replace("expect: {equals: absent}", "expect: {equals: present}\n        within: 6s", 1)
    write_lab(pytester.path, "slow", rows=rows)
    result = pytester.runpytest("labs", "-v", "--acalab-min-wait", "6s", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=4, failed=1)
    result.stdout.fnmatch_lines([
        "*[[]slow[]] waiting for lab.yaml:* 5s of 6s, * attempts; "
        "expected image_tag(repository=quickstart, tag=latest) equals 'present', now 'absent'*"])
