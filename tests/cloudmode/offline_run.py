"""Inside a loopback-only network namespace: what a user types, then what it asked of each Azure host.

    unshare --net python tests/cloudmode/offline_run.py OUT_DIR

1. brings ``lo`` up and records the namespace's interfaces and what a connection off-machine gets;
2. ``acalab emulator serve --env-file OUT_DIR/acalab.env`` (cloud-faithful, the default);
3. in bash: ``eval "$(acalab emulator env --from OUT_DIR/acalab.env)"`` then
   ``pytest labs --acalab-backend azure --acalab-subscription "$AZURE_SUBSCRIPTION_ID"`` (plus junit and
   report paths; ``ACALAB_MAX_WAIT`` / ``ACALAB_POLL_INTERVAL`` shrink Azure's waits so a regression fails in
   seconds), then reads the emulator's request counts (by host: which names the run used);
4. writes ``OUT_DIR/results.json`` and stops the emulator (SIGTERM, by its process id).

``acalab`` and ``pytest`` are this interpreter's (wrappers first on PATH), so the code under test runs.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))
SHRUNK = {"ACALAB_MAX_WAIT": "15s", "ACALAB_POLL_INTERVAL": "0.2s"}
"""The waits shrunk as in ``test_cloud_mode.CLOUD_MAX_WAIT`` (the emulator's fast clock is behind Azure's names)."""
DROPPED_PREFIXES = ("AZURE_", "ACALAB_", "PYTEST_", "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy",
                    "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE")


def _wrappers(out: Path) -> Path:
    bin_dir = out / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    for name, module in (("acalab", "pytest_acalab.cli"), ("pytest", "pytest")):
        path = bin_dir / name
        path.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m {module} "$@"\n')
        path.chmod(0o755)
    return bin_dir


def _serve(env: dict[str, str], env_file: Path, log: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(["acalab", "emulator", "serve", "--env-file", str(env_file)], env=env, cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    with log.open("w") as fh:
        for line in proc.stdout:
            fh.write(line)
            if "acalab emulator env --from" in line:
                return proc
    raise SystemExit(f"acalab emulator serve ended early; see {log}")


def _traffic(env_file: Path) -> list[dict[str, Any]]:
    """The emulator's request counts since the last call (read, then reset), asked as any SDK client would."""
    import requests
    from azure.identity import ClientSecretCredential

    from pytest_acalab.emulator.connect import read_exports

    exports = read_exports(env_file.read_text())
    proxies = {"https": exports["HTTPS_PROXY"]}
    cred = ClientSecretCredential(exports["AZURE_TENANT_ID"], exports["AZURE_CLIENT_ID"],
                                  exports["AZURE_CLIENT_SECRET"], connection_verify=exports["REQUESTS_CA_BUNDLE"],
                                  proxies=proxies)
    token = cred.get_token("https://management.azure.com/.default").token
    resp = requests.get("https://management.azure.com/acalab/traffic?reset=true", proxies=proxies, timeout=30,
                        verify=exports["REQUESTS_CA_BUNDLE"], headers={"Authorization": f"Bearer {token}"})
    resp.raise_for_status()
    return resp.json()["requests"]  # (its own login shows up in the next read; ARM counts are unaffected)


def _run(env: dict[str, str], env_file: Path, target: str, out: Path, name: str) -> dict[str, Any]:
    script = (f'eval "$(acalab emulator env --from {env_file})"\n'
              f'pytest {target} --acalab-backend azure --acalab-subscription "$AZURE_SUBSCRIPTION_ID" '
              f'--junitxml {out / (name + ".xml")} --acalab-report-dir {out / "reports" / name}\n')
    done = subprocess.run(["bash", "-c", script], env={**env, **SHRUNK}, cwd=REPO, capture_output=True, text=True,
                          timeout=900)
    (out / f"{name}.log").write_text(done.stdout + done.stderr)
    return {"target": target, "returncode": done.returncode, "junit": str(out / (name + ".xml")),
            "tail": (done.stdout + done.stderr)[-3000:], "traffic": _traffic(env_file)}


def main(out: Path) -> int:
    import netns

    out.mkdir(parents=True, exist_ok=True)
    netns.bring_loopback_up()
    results: dict[str, Any] = {"network": netns.isolation_report(), "runs": []}
    env = {k: v for k, v in os.environ.items() if not k.startswith(DROPPED_PREFIXES)}
    env["PATH"] = f"{_wrappers(out)}{os.pathsep}{env.get('PATH', '')}"
    env_file = out / "acalab.env"
    serve = _serve(env, env_file, out / "serve.log")
    try:
        results["runs"].append(_run(env, env_file, "labs", out, "all"))
    finally:
        serve.send_signal(signal.SIGTERM)
        try:
            rest, _ = serve.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            serve.kill()
            rest, _ = serve.communicate()
        with (out / "serve.log").open("a") as fh:
            fh.write(rest or "")
        results["serve_returncode"] = serve.returncode
        (out / "results.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
