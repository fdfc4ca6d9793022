"""A lab's phases as a reader must be able to trust them: Python tests run in the phase they ask for
(``@pytest.mark.lab_phase``), and a trigger (recovery) action that fails makes its phase's items error with
that failure instead of checking a system that was never broken (never recovered)."""

from __future__ import annotations

import re
import textwrap

import pytest

from helpers.labkit import HOLDS, write_lab

FAST = ("--acalab-min-wait", "1s", "-p", "no:cacheprovider")

INJECTED_ROW = """\
    - key: injected
      variable: Tag a Python trigger step imported
      control: absent
      experimental: quickstart:injected present
      failing:
        probe: image_tag
        with: {registry: registry, repository: quickstart, tag: injected}
        expect: {equals: present}
      recovered:
        probe: image_tag
        with: {registry: registry, repository: quickstart, tag: injected}
        expect: {equals: present}
"""

PHASED_TESTS = textwrap.dedent("""\
    import pytest

    SOURCE = "mcr.microsoft.com/k8se/quickstart:latest"


    def test_unmarked_runs_last(lab_probe):
        assert lab_probe("image_tag", registry="registry", repository="quickstart", tag="latest").value == "present"


    @pytest.mark.lab_phase("recovered")
    def test_after_the_recovered_checks(lab_context):
        assert lab_context.phase == "recovered"


    @pytest.mark.lab_phase("recovery")
    def test_after_the_recovery_actions(lab_context, lab_probe):
        assert lab_context.action_results["import"].status == "Succeeded"
        assert lab_probe("image_tag", registry="registry", repository="quickstart", tag="latest").value == "present"


    @pytest.mark.lab_phase("failing")
    def test_still_failing(lab_context, lab_probe):
        assert "import" not in lab_context.action_results  # no recovery action has run yet
        assert lab_probe("image_tag", registry="registry", repository="quickstart", tag="latest").value == "absent"


    @pytest.mark.lab_phase("trigger")
    def test_python_trigger_step(lab_action, lab_context):
        assert lab_context.phase == "failing"
        result = lab_action("acr_import", registry="registry", source=SOURCE, image="quickstart:injected")
        assert result.status == "Succeeded", result.detail
    """)


def test_python_tests_run_in_the_phase_they_mark(pytester: pytest.Pytester) -> None:
    folder = write_lab(pytester.path, "phased", rows=HOLDS + INJECTED_ROW)
    (folder / "test_phases.py").write_text(PHASED_TESTS)
    result = pytester.runpytest("labs", "-v", *FAST)
    result.assert_outcomes(passed=12)
    ran = [m.group(1) for m in re.finditer(r"::(\S+) PASSED", result.stdout.str())]
    assert ran == ["deployment", "test_python_trigger_step",
                   "image-tag[failing]", "import-result[failing]", "injected[failing]",
                   "test_still_failing", "test_after_the_recovery_actions",
                   "image-tag[recovered]", "import-result[recovered]", "injected[recovered]",
                   "test_unmarked_runs_last", "test_after_the_recovered_checks"], ran


def test_a_python_trigger_step_is_what_the_failing_checks_see(pytester: pytest.Pytester) -> None:
    """Without the marker the same step runs last: the checks of its tag fail (it was absent then)."""
    folder = write_lab(pytester.path, "late", rows=HOLDS + INJECTED_ROW)
    (folder / "test_phases.py").write_text(PHASED_TESTS.replace('@pytest.mark.lab_phase("trigger")\n', "")
                                           .replace('    assert lab_context.phase == "failing"\n', ""))
    result = pytester.runpytest("labs", "-q", "-rf", *FAST)
    result.assert_outcomes(passed=10, failed=2)
    result.stdout.fnmatch_lines(["FAILED *::injected[[]failing[]]*", "FAILED *::injected[[]recovered[]]*"])


@pytest.mark.parametrize("marker, got", [("lab_phase('trigered')", "'trigered'"),
                                         ("lab_phase()", "no argument"),
                                         ("lab_phase('failing', 'recovered')", "'failing', 'recovered'")])
def test_a_bad_phase_is_one_error_with_file_and_line(pytester: pytest.Pytester, marker: str, got: str) -> None:
    folder = write_lab(pytester.path, "badphase")
    (folder / "test_bad.py").write_text(f"import pytest\n\n\n@pytest.mark.{marker}\ndef test_x():\n    pass\n")
    result = pytester.runpytest("labs", "--collect-only", "-q", *FAST)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    err = result.stderr.str()
    assert f"labs/badphase/test_bad.py:4: @pytest.mark.lab_phase: expected one of trigger, failing, recovery, " \
           f"recovered; got {got}" in err, err
    assert "Traceback" not in err and err.count("ERROR") == 1


def test_the_marker_outside_a_lab_folder_is_an_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_outside="import pytest\n\n@pytest.mark.lab_phase('failing')\ndef test_x():\n    pass\n")
    result = pytester.runpytest("--collect-only", "-q", *FAST)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "test_outside.py:3: @pytest.mark.lab_phase works only for tests inside a lab folder" in result.stderr.str()


FAILING_TRIGGER = """\
trigger:
  actions:
    - id: bad-import
      action: acr_import
      with: {registry: registry, source: mcr.microsoft.com/k8se/no-such-image:latest, image: 'quickstart:none'}
"""


def _with_trigger(folder, trigger: str) -> None:
    lab = folder / "lab.yaml"
    lab.write_text(lab.read_text().replace("trigger: deployment\n", trigger))


def test_a_failed_trigger_action_errors_the_failing_items_with_its_failure(pytester: pytest.Pytester) -> None:
    folder = write_lab(pytester.path, "badtrigger")
    _with_trigger(folder, FAILING_TRIGGER)
    (folder / "test_py.py").write_text("import pytest\n\n@pytest.mark.lab_phase('failing')\n"
                                       "def test_in_failing(lab_context):\n    pass\n")
    result = pytester.runpytest("labs", "-q", "-rE", *FAST)
    # the deployment stands; the failing checks (which would pass: the tag IS absent), the recovered ones
    # and the failing-phase Python test error with the trigger's failure
    result.assert_outcomes(passed=1, errors=5)
    out = result.stdout.str()
    assert out.count("trigger action 'bad-import' (acr_import, line ") >= 5, out
    assert "ended Failed, expected Succeeded: import of mcr.microsoft.com/k8se/no-such-image:latest failed" in out
    assert "the failing state was never induced" in out and "recovery not run" in out
    assert "Healthy" not in out


def test_an_action_expected_to_fail_is_the_fault(pytester: pytest.Pytester) -> None:
    folder = write_lab(pytester.path, "refused", rows=HOLDS + """\
    - key: refusal
      variable: Import of a missing image
      control: Succeeded
      experimental: Failed
      failing:
        action: bad-import
        expect: {equals: Failed}
      recovered:
        action: import
        expect: {equals: Succeeded}
""")
    _with_trigger(folder, FAILING_TRIGGER.replace("      with:", "      expect: Failed\n      with:"))
    result = pytester.runpytest("labs", "-q", *FAST)
    result.assert_outcomes(passed=7)


def test_a_failed_recovery_action_errors_the_recovered_items(pytester: pytest.Pytester) -> None:
    folder = write_lab(pytester.path, "badrecovery")
    lab = folder / "lab.yaml"
    lab.write_text(lab.read_text().replace("source: mcr.microsoft.com/k8se/quickstart:latest, image:",
                                           "source: mcr.microsoft.com/k8se/nothing:latest, image:"))
    result = pytester.runpytest("labs", "-q", "-rE", *FAST)
    result.assert_outcomes(passed=3, errors=2)
    out = result.stdout.str()
    assert out.count("recovery action 'import' (acr_import, line ") >= 2
    assert "the recovery did not complete, so the recovered checks are not evaluated" in out
