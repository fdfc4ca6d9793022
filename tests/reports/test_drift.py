"""Drift between runs: `acalab compare OLD NEW` and `--acalab-baseline` name the row and what changed; two runs
of an unchanged lab show no drift although every name in them differs; transition times count when they move."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from helpers.labkit import write_lab
from pytest_acalab.cli import main
from pytest_acalab.reports.drift import compare, format_markdown, load_run, normalise

FAST = ("--acalab-min-wait", "1s", "-p", "no:cacheprovider")
CHANGED = ("""        expect: {equals: absent}
      recovered:
        probe: image_tag
        with: {registry: registry, repository: quickstart, tag: latest}""",
           """        expect: {equals: present}
        within: 2s
      recovered:
        probe: image_tag
        with: {registry: registry, repository: quickstart, tag: latest}""")


def _run(pytester: pytest.Pytester, report: str, *extra: str) -> pytest.RunResult:
    return pytester.runpytest("labs", f"--acalab-report-dir={report}", f"--junitxml={report}/junit.xml", *FAST, *extra)


def test_an_unchanged_lab_shows_no_drift_though_every_name_differs(pytester: pytest.Pytester) -> None:
    write_lab(pytester.path, "tiny")
    _run(pytester, "first").assert_outcomes(passed=5)
    _run(pytester, "second").assert_outcomes(passed=5)
    first, second = (json.loads((pytester.path / r / "tiny" / "results.json").read_text()) for r in ("first", "second"))
    assert first["summary"]["resources"]["registry"] != second["summary"]["resources"]["registry"]
    for a, b in (("first", "second"), ("first/junit.xml", "second/junit.xml")):
        drift = compare(load_run(pytester.path / a), load_run(pytester.path / b))
        assert drift.changes == [] and drift.compared == 5, [c.as_dict() for c in drift.changes]


def test_a_changed_expectation_is_named_with_its_row_everywhere(
        pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    lab = write_lab(pytester.path, "tiny")
    _run(pytester, "base").assert_outcomes(passed=5)
    (lab / "lab.yaml").write_text((lab / "lab.yaml").read_text().replace(*CHANGED, 1))
    summary = pytester.path / "step-summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    result = _run(pytester, "now", "--acalab-baseline", "base")
    result.assert_outcomes(passed=4, failed=1)
    # the terminal
    out = result.stdout.str()
    assert "drift from the baseline" in out
    result.stdout.fnmatch_lines(["*tiny*image-tag?failing?*verdict*Pass*Fail*",
                                 "*tiny*image-tag?failing?*expectation*image_tag(reposito*"])
    table = out.split("drift from the baseline")[1]
    assert "'absent'" in table and "'present'" in table
    # the job summary, the HTML report and the drift files
    md = summary.read_text()
    assert "| tiny | `image-tag[failing]` | verdict | Pass | Fail |" in md
    assert "| tiny | `image-tag[failing]` | expectation |" in md and "equals 'present'" in md
    assert "image-tag[failing]" in (pytester.path / "now" / "tiny" / "report.html").read_text()
    assert "Drift from the baseline" in (pytester.path / "now" / "index.html").read_text()
    saved = json.loads((pytester.path / "now" / "drift.json").read_text())
    assert {(c["item"], c["what"]) for c in saved["changes"]} >= {("image-tag[failing]", "verdict"),
                                                                    ("image-tag[failing]", "expectation")}
    # only that row changed: the others are the same though every resource name differs
    assert {c["item"] for c in saved["changes"]} == {"image-tag[failing]"}
    # acalab compare, on report directories and on junit files
    for old, new in (("base", "now"), ("base/junit.xml", "now/junit.xml")):
        capsys.readouterr()
        assert main(["compare", str(pytester.path / old), str(pytester.path / new), "--exit-code"]) == 1
        text = capsys.readouterr().out
        assert "image-tag[failing]" in text and "verdict" in text and "Fail" in text, text
    assert main(["compare", str(pytester.path / "base"), str(pytester.path / "now"), "--format", "markdown"]) == 0
    assert "| tiny | `image-tag[failing]` | verdict | Pass | Fail |" in capsys.readouterr().out


def _results(tmp: Path, name: str, held: float, message: str | None = None) -> Path:
    folder = tmp / name / "lab1"
    folder.mkdir(parents=True)
    items = {"revision-health[failing]": {"outcome": "passed", "expected": "revision_health equals 'Unhealthy'",
                                          "actual": "'Unhealthy'", "held_after": held},
             "probe[recovered]": {"outcome": "error" if message else "passed", "message": message}}
    doc = {"format": "acalab-results/1", "run": {"backend": "azure", "run_id": name}, "lab": {"id": "lab1"},
           "items": items, "summary": {"resources": {"app": f"ca-app-{name}"}}}
    (folder / "results.json").write_text(json.dumps(doc))
    return tmp / name


def test_a_transition_that_took_much_longer_is_drift_and_jitter_is_not(tmp_path: Path) -> None:
    last_week = _results(tmp_path, "week", 261.0)
    tonight = _results(tmp_path, "tonight", 540.0)
    jitter = _results(tmp_path, "jitter", 270.0)
    drift = compare(load_run(last_week), load_run(tonight))
    assert [(c.item, c.what, c.before, c.now) for c in drift.changes] == [
        ("revision-health[failing]", "transition time", "'Unhealthy' after 261 s", "'Unhealthy' after 540 s")]
    row = "| lab1 | `revision-health[failing]` | transition time | 'Unhealthy' after 261 s | 'Unhealthy' after 540 s |"
    assert row in format_markdown(drift)
    assert compare(load_run(last_week), load_run(jitter)).changes == []


def test_a_changed_error_wording_is_drift(tmp_path: Path) -> None:
    old = _results(tmp_path, "old", 5.0, "probe 'x' could not run: (AuthorizationFailed) The client has no access")
    new = _results(tmp_path, "new", 5.0, "probe 'x' could not run: (ResourceNotFound) The app was not found")
    changes = compare(load_run(old), load_run(new)).changes
    assert [(c.item, c.what) for c in changes] == [("probe[recovered]", "error wording")]
    assert "AuthorizationFailed" in changes[0].before and "ResourceNotFound" in changes[0].now


def test_normalise_masks_what_differs_on_every_run() -> None:
    names = {"app": "ca-labtag-3tylsn", "registry": "acrlabtag3tylsn", "group": "acalab-lab-3ddd84cd-main"}
    text = ("revision ca-labtag-3tylsn--cibocgc (created 2026-12-04T03:18:31+00:00) in acalab-lab-3ddd84cd-main: "
            "acrlabtag3tylsn.azurecr.io/labtag:v1 sha256:18d51edaa7bdf6e147 12 items: [{time: 'x'}]")
    assert normalise(text, names) == ("revision <app>--<revision> (created <time>) in <group>: "
                                      "<registry>.azurecr.io/labtag:v1 sha256:<digest> 2+ items")


def test_compare_says_what_it_cannot_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty").mkdir()
    assert main(["compare", str(tmp_path / "empty"), str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "holds no lab results" in err and "Traceback" not in err


def test_the_baseline_option_with_an_unreadable_baseline_says_so_and_still_reports(pytester: pytest.Pytester) -> None:
    write_lab(pytester.path, "tiny")
    result = _run(pytester, "now", "--acalab-baseline", "nowhere")
    result.assert_outcomes(passed=5)
    result.stdout.fnmatch_lines(["*no comparison with the baseline: nowhere: no such report directory or junit file*"])
    assert (pytester.path / "now" / "index.html").is_file()
    shutil.rmtree(pytester.path / "now")
