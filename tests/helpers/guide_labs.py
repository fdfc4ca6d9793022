"""Run a project lab in pytester with a recorder beside it, for the contract tests against the Practical
Guide's evidence (``tests/labs/test_*_evidence.py``).

The recorder runs after the lab's items and records, through the lab's own fixtures, the system logs of the
whole lab, the revisions, the latest revision's replicas and the ingress, and what each action reported.
Values seen while the lab was in its failing state come from the run's journal (every probe answer, with
its time).
"""

from __future__ import annotations

import ast
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

LABS = Path(__file__).resolve().parents[2] / "labs"
EVIDENCE = Path(__file__).resolve().parents[1] / "labs" / "data" / "guide_evidence"

RECORDER = '''
import json
from pathlib import Path


def test_record_what_the_emulator_produced(lab_context, lab_probe):
    import time

    def value(name, **args):
        return lab_probe(name, **args).value

    # the Guide captured the recovered state once the recovery had settled; an in-place rollout that is
    # still starting its new replica already reads Healthy (as on Azure) but still counts the old replicas
    cap = time.monotonic() + 120
    while lab_context.backend.settling(lab_context.resource_group) and time.monotonic() < cap:
        time.sleep(0.1)

    latest = value("app_state", app="app", field="latestRevisionName")
    out = {
        "logs": value("system_logs", app="app", since="lab"),
        "revisions": value("revisions", app="app"),
        "latest": latest,
        "final": {field: value("revision_state", app="app", field=field, revision=latest)
                  for field in ("healthState", "runningState", "provisioningState", "runningStateDetails",
                                "replicas")},
        "replicas": {field: value("replicas", app="app", field=field, revision=latest)
                     for field in ("count", "runningState", "restartCount")},
        "ingress": value("ingress", app="app", field="traffic"),
        "actions": {k: {"status": r.status, **r.data} for k, r in lab_context.action_results.items()},
    }
    if Path(__file__).parent.name == "appinsights_connection_string_missing":  # the tables Azure's evidence counts
        out["telemetry"] = {table: len(value("log_rows", workspace="workspace", app="app", table=table))
                            for table in ("AppRequests", "AppTraces")}
    if Path(__file__).parent.name == "diagnostic_settings_missing":  # the configuration Azure's evidence shows
        out["env_logs"] = value("environment_state", environment="environment", field="appLogsConfiguration")
    if Path(__file__).parent.name == "managed_identity_key_vault_failure":  # the answer Azure's evidence shows
        import requests
        fqdn = value("app_state", app="app", field="configuration.ingress.fqdn")
        settings = lab_context.backend.http_settings()
        out["health"] = requests.get(f"https://{fqdn}/health", verify=settings.get("verify", True),
                                     proxies=settings.get("proxies"), timeout=30).text
    if Path(__file__).parent.name == "observability_tracing":  # what the Guide's show and revision list captured
        app_name = latest.rsplit("--", 1)[0]
        shown = lab_context.clients.apps.container_apps.get(lab_context.resource_group, app_name).as_dict()
        out["app"] = {"env": shown["properties"]["template"]["containers"][0].get("env"),
                      "secrets": shown["properties"]["configuration"].get("secrets")}
        listed = lab_context.clients.apps.container_apps_revisions.list_revisions(lab_context.resource_group,
                                                                                  app_name)
        out["revision_list"] = [{"name": r.name, "active": r.active, "createdTime": r.created_time.isoformat(),
                                 "healthState": r.health_state, "runningState": r.running_state,
                                 "trafficWeight": r.traffic_weight} for r in listed]
    (Path(__file__).parent / "produced.json").write_text(json.dumps(out, default=str))
'''


_ITEMS = re.compile(r"^\d+ items?: ")


def _value(text: Any) -> Any:
    """A journal value back as data: ``'Healthy'``, ``2``, ``10 items: [503, ...]`` (a list)."""
    if not isinstance(text, str):
        return text
    try:
        return ast.literal_eval(_ITEMS.sub("", text))
    except (ValueError, SyntaxError):
        return text


def run_lab(pytester: pytest.Pytester, name: str, extra: dict[str, str] | None = None,
            recorder: str = RECORDER, args: tuple[str, ...] = ()) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Run the lab (with ``extra`` test files beside the recorder); return what the recorder saw at the end and
    the journal's probe answers seen before the first recovery action started (the failing state). The run's
    terminal output is kept in ``output.txt``."""
    target = pytester.path / "labs" / name
    shutil.copytree(LABS / name, target)
    (target / "test_zz_recorder.py").write_text(recorder)
    for file_name, text in (extra or {}).items():
        (target / file_name).write_text(text)
    reports = pytester.path / "reports"
    # every wait gets 30 real seconds at least, as in test_real_labs: beside a second suite the memory lab's
    # first OOM kill came 20 s after the lab started (2.5 s on an idle machine), and its crash-loop wait ended in
    # the back-off between two kills past the default 10 s floor. A lab that passes pays nothing for the floor.
    result = pytester.runpytest("labs", "-q", "-p", "no:cacheprovider", "--acalab-report-dir", str(reports),
                                "--junitxml", str(reports / "junit.xml"), "--acalab-min-wait", "30s", *args)
    (pytester.path / "output.txt").write_text(result.stdout.str() + result.stderr.str())
    result.assert_outcomes(passed=2 + len(extra or {}) + 2 * len(_rows(target)))
    produced = json.loads((target / "produced.json").read_text())
    journal = json.loads((reports / name / "journal.json").read_text())["entries"]
    produced["journal"] = journal
    recovery_ids = _recovery_ids(target)
    first_recovery = min(float(e["t"]) for e in journal
                         if e["kind"] == "action" and e["name"] in recovery_ids and e.get("event") == "start")
    failing = [{**e, "value": _value(e.get("value"))} for e in journal
               if e["kind"] == "probe" and float(e["t"]) < first_recovery]
    return produced, failing


def _rows(folder: Path) -> list[Any]:
    from pytest_acalab.labfile import load_lab

    return list(load_lab(folder).rows)


def _recovery_ids(folder: Path) -> set[str]:
    import yaml

    return {a["id"] for a in yaml.safe_load((folder / "lab.yaml").read_text())["recovery"]}


def seen(failing: list[dict[str, Any]], probe: str) -> set[Any]:
    return {e["value"] for e in failing if e["name"] == probe and isinstance(e["value"], (str, int))}


def log_pairs(logs: list[dict[str, Any]], revision: str) -> set[tuple[str, str, str]]:
    return {(r["type"], r["reason"], r["message"]) for r in logs if r.get("revision") == revision}


