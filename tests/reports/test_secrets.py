"""No secret the emulator minted reaches any output of a run: terminal, logs, junit, reports, journal."""

from __future__ import annotations

import json
from urllib.parse import quote, quote_plus

import pytest

from helpers.livekit import copy_lab
from pytest_acalab.emulator import Emulator


def _forms(secret: str) -> set[str]:
    """How a secret may appear when written out: raw, URL-encoded, JSON-escaped."""
    return {secret, quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1]}


@pytest.fixture
def issued_tokens(attached: Emulator, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every access token the emulator's token authority issues during the test (recorded, not changed)."""
    tokens: list[str] = []
    identity = attached.platform.identity
    real_issue = identity.issue

    def issue(principal, audience):
        token = real_issue(principal, audience)
        tokens.append(token)
        return token

    monkeypatch.setattr(identity, "issue", issue)
    return tokens


def test_no_secret_in_any_output_of_both_labs(pytester: pytest.Pytester, attached: Emulator,
                                              issued_tokens: list[str]) -> None:
    labs = pytester.path / "labs"
    copy_lab(labs, "acr_pull_failure")
    copy_lab(labs, "acr_tag_deleted")
    # a third lab that fails on purpose, so failure messages and excerpts are written too
    failing = copy_lab(labs, "acr_pull_failure", "acr_pull_failure_wrong")
    text = (failing / "lab.yaml").read_text(encoding="utf-8").replace("id: acr_pull_failure\n",
                                                                      "id: acr_pull_failure_wrong\n")
    text = text.replace("expect: {regex: ':does-not-exist$'}", "expect: {regex: ':something-else$'}")
    (failing / "lab.yaml").write_text(text, encoding="utf-8")
    reports = pytester.path / "reports"
    before = set(attached.platform.secrets)
    result = pytester.runpytest(
        str(labs), "-v", "-s", "--junitxml", str(reports / "junit.xml"), "--acalab-report-dir", str(reports),
        "--log-level=DEBUG", "-o", "log_cli=true", "--log-file", str(reports / "run.log"),
        # 5 real seconds for a row: with DEBUG logging of every HTTP exchange on a loaded machine, one request
        # can take longer than 1 s (the one row failing on purpose waits them out; the others pass at once)
        "--log-file-level=DEBUG", "--acalab-min-wait", "5s")
    result.assert_outcomes(passed=26, failed=1)

    secrets = set(attached.platform.secrets) | set(issued_tokens)
    # not vacuous: this run minted each kind of secret (3 registries with 2 passwords each, workspace keys,
    # event-stream and registry tokens, access tokens)
    minted = set(attached.platform.secrets) - before
    jwts = {s for s in minted if s.startswith("eyJ")}
    assert attached.client_secret in secrets and issued_tokens and jwts, len(secrets)
    assert len(minted - jwts) >= 6, len(minted - jwts)

    outputs = {"stdout": result.stdout.str(), "stderr": result.stderr.str()}
    for path in sorted(reports.rglob("*")):
        if path.is_file():
            outputs[str(path.relative_to(pytester.path))] = path.read_text(encoding="utf-8", errors="replace")
    written = set(outputs)
    assert {"reports/junit.xml", "reports/run.log", "reports/acr_pull_failure/journal.json",
            "reports/acr_pull_failure/experiment-log.md", "reports/acr_pull_failure/results.json",
            "reports/acr_tag_deleted/journal.json"} <= written, written
    assert "DEBUG" in outputs["stdout"] and "DEBUG" in outputs["reports/run.log"]  # logs were really on

    leaks = [(where, secret[:6] + "…") for secret in secrets for form in _forms(secret)
             for where, text in outputs.items() if form in text]
    assert leaks == [], f"{len(leaks)} leak(s): {sorted(set(leaks))[:20]}"


def test_log_records_are_scrubbed_at_the_handler(pytester: pytest.Pytester, attached: Emulator) -> None:
    """A secret logged by any library (not just the plugin) is masked in live logs, the log file and reports."""
    lab = copy_lab(pytester.path, "acr_tag_deleted")
    secret = attached.client_secret
    (lab / "test_logs_a_secret.py").write_text(
        "import logging\n"
        "def test_logs(lab_context):\n"
        f"    logging.getLogger('some.library').warning('connecting with %s', {secret!r})\n"
        "    logging.getLogger('some.library').warning('GET /blob?sig=abcdefabcdef&sp=r token eyJhbGciOiJIUzI1NiJ9."
        "eyJzdWIiOiIxMjM0NTY3ODkwIn0.abcdefghijk')\n"
        "    assert False, 'failing on purpose'\n", encoding="utf-8")
    log_file = pytester.path / "run.log"
    result = pytester.runpytest(str(lab), "-o", "log_cli=true", "--log-level=DEBUG", "--log-file", str(log_file))
    result.assert_outcomes(passed=9, failed=1)
    everything = result.stdout.str() + result.stderr.str() + log_file.read_text(encoding="utf-8")
    assert "connecting with ***" in everything
    assert secret not in everything
    assert "eyJzdWIiOiIxMjM0NTY3ODkwIn0" not in everything and "abcdefabcdef" not in everything
