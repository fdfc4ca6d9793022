"""The text outputs: checks say what they look at, regexes and values read as written, the terminal log wraps,
skipped steps say why, every report names the backend, junit classnames are labs.<lab>, the journal is plain JSON,
and no pytest cache lands in a lab folder."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from pytest_acalab.authoring.scaffold import new_lab
from pytest_acalab.labfile import load_lab
from pytest_acalab.labfile.tolerances import Regex, parse_tolerance
from pytest_acalab.reports.experiment_log import LabResults

LABS = Path(__file__).resolve().parents[2] / "labs"


def test_expected_phrases_name_the_probe_and_its_filters() -> None:
    lab = load_lab(LABS / "acr_tag_deleted")
    failing = {row.key: row.failing.describe() for row in lab.rows}
    assert failing["system-log-evidence"].startswith(
        "any of (system_logs(source=eventstream, reason=ContainerTerminated, message=\"reason 'ImagePullFailure'\") "
        "at least 2 items; system_logs(source=log_analytics,")
    assert failing["image-reference"] == ("all of (app_image matches regex '/labtag:v1$'; "
                                          "image_tag(repository=labtag, tag=v1) equals 'absent')")
    assert "revision_state(field=runningStateDetails) matches /ImagePullBackOff/" in failing["revision-health"]
    assert failing["recovery-action"] == "action:delete-tag equals 'Succeeded'"


def test_regexes_and_values_read_as_written() -> None:
    assert Regex("ImagePullBackOff").describe() == "matches /ImagePullBackOff/"
    assert Regex("/labadm:v1$").describe() == "matches regex '/labadm:v1$'"  # never //labadm:v1$/
    assert "\\'" not in parse_tolerance({"equals": "Container 'app' was terminated"}).describe()
    verdict = parse_tolerance({"count": {"min": 1}}).evaluate([{"message": "Container 'app' was terminated"}])
    assert verdict.actual == "1 item: [{message: \"Container 'app' was terminated\"}]"


def test_terminal_experiment_log_wraps_every_cell_and_cuts_nothing() -> None:
    lab = load_lab(LABS / "acr_tag_deleted")
    long_actual = " ".join(f"word{i:03d}" for i in range(60))  # 480 characters
    results = LabResults(lab, run={"backend": "emulator", "run_id": "abc12345", "location": "koreacentral"})
    results.items["revision-health[failing]"] = {"outcome": "passed", "actual": long_actual}
    for width in (80, 120, 200):
        lines = results.terminal(width)
        assert all(len(line) <= width for line in lines), width
        text = " ".join(lines)
        assert all(f"word{i:03d}" in text for i in range(60)) and "…" not in text
        assert lines[0].startswith("backend: emulator")


def _junit(path: Path) -> tuple[dict[str, str], list[ET.Element]]:
    root = ET.parse(path).getroot()
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    assert suite is not None
    props = {p.get("name") or "": p.get("value") or "" for p in suite.findall("properties/property")}
    return props, suite.findall("testcase")


def test_a_lab_outside_the_repository_reports_plainly(pytester: pytest.Pytester) -> None:
    """A scaffolded lab in a folder not called labs, with a row on the app's HTTP endpoint (served by the
    emulator's edge): every report names the backend and shows plain values."""
    lab = new_lab("outside", pytester.path / "elsewhere")
    text = (lab / "lab.yaml").read_text()
    text = text.replace("trigger: deployment", """    - key: http-answer
      variable: HTTP answer
      control: 200
      experimental: no answer
      failing:
        probe: http_endpoint
        with: {app: app, requests: 2}
        expect: {count: {min: 0}}
      recovered:
        probe: http_endpoint
        with: {app: app, requests: 2}
        expect: {count: 2}
trigger: deployment""", 1).replace("cleanup: delete", """  - step: 5
    action: GET the app's endpoint
    expected: it answers
    from: http-answer[recovered]
cleanup: delete""")
    (lab / "lab.yaml").write_text(text)
    (lab / "test_extra.py").write_text("def test_extra(lab_context):\n    assert lab_context.resource_group\n")
    result = pytester.runpytest("elsewhere/outside", "-v", "--junitxml=junit.xml", "--acalab-report-dir=reports",
                                "-p", "no:cacheprovider")
    result.assert_outcomes(passed=6)
    out = result.stdout.str()
    assert "backend: emulator" in out
    section = out[out.index("experiment log: outside"):out.index("acalab reports written")]
    # no Python tuple, no None for a skipped step (in the log itself: a library's warning may say None)
    assert "('" not in section and "None" not in section, section

    report = pytester.path / "reports" / "outside"
    log = (report / "experiment-log.md").read_text()
    assert "- Backend: emulator (fast profile" in log
    step5 = next(line for line in log.splitlines() if line.startswith("| 5 |"))
    assert "[200, 200]" in step5 and "| Pass |" in step5  # the workload answered through the emulator's edge
    assert "None" not in log and "('" not in log
    results = json.loads((report / "results.json").read_text())
    assert results["backend"] == "emulator" and results["run"]["backend"] == "emulator"
    assert results["lab"]["id"] == "outside"
    assert results["items"]["http-answer[recovered]"]["outcome"] == "passed"

    props, cases = _junit(pytester.path / "junit.xml")
    assert props["acalab.backend"] == "emulator"
    assert {c.get("classname") for c in cases} == {"labs.outside", "labs.outside.test_extra"}
    assert json.loads(props["acalab.resources.outside"])["app"].startswith("ca-")

    raw = (report / "journal.json").read_text()
    assert "ProbeCheck(" not in raw and "FrozenMap(" not in raw
    entries = json.loads(raw)["entries"]
    kinds = {e["kind"] for e in entries}
    assert {"phase", "verdict", "probe", "action", "deploy"} <= kinds
    answered = next(e for e in entries if e["kind"] == "verdict" and e["name"] == "http-answer[recovered]")
    assert answered["ok"] is True and not answered.get("skipped")
    held = next(e for e in entries if e["kind"] == "verdict" and e["name"] == "revision-health[recovered]")
    assert held["ok"] is True and held["held_after"] >= 0 and held["first_held"] >= held["began"]
    assert any(isinstance(e.get("observed"), dict) and "revision health" in e["observed"] for e in entries)


def test_no_pytest_cache_in_a_lab_folder(pytester: pytest.Pytester) -> None:
    """pytest writes its cache at the end of a run into its rootdir, which is the lab folder when nothing else
    configures one: not there. (Only a plain Python test runs here: the cache does not care what ran.)"""
    lab = new_lab("cacheless", pytester.path)
    (lab / "test_plain.py").write_text("def test_plain():\n    pass\n")
    result = pytester.runpytest("--rootdir", str(lab), str(lab), "-k", "plain", "-q")
    result.assert_outcomes(passed=1, deselected=3)
    assert not (lab / ".pytest_cache").exists()
    # elsewhere the cache is pytest's business: the plugin leaves it alone
    elsewhere = pytester.runpytest("--rootdir", str(pytester.path), str(lab), "-k", "plain", "-q")
    elsewhere.assert_outcomes(passed=1, deselected=3)
    assert (pytester.path / ".pytest_cache").is_dir() and not (lab / ".pytest_cache").exists()
