"""An ACR Tasks build of a 1 MB context through azure-mgmt-containerregistrytasks, as ``az acr build`` does it:
pack the context (tar.gz) -> ``get_build_source_upload_url`` -> blob ``PUT`` (requests, ``x-ms-blob-type:
BlockBlob``) -> ``schedule_run`` (DockerBuildRequest) -> poll ``runs.get`` until a terminal status.

    python -m benchmarks.bench_registry [--context-bytes 1048576] [--builds 3]

Figure: wall time of one build on the fast profile (median over the builds; each pushes a new tag).
"""

from __future__ import annotations

import argparse
import io
import json
import random
import tarfile
import time
from typing import Any

from benchmarks import figure, median

GROUP = "registry"
TERMINAL = ("Succeeded", "Failed", "Canceled", "Error", "Timeout")
POLL_SECONDS = 0.01
WORDS = ("container", "revision", "replica", "registry", "manifest", "layer", "digest", "image", "pull",
         "health", "ingress", "scale", "secret", "workspace", "query", "deploy", "build", "tag", "push", "log")
DOCKERFILE = """FROM python:3.11-slim
WORKDIR /app
ENV PYTHONUNBUFFERED=1 PORT=8000
COPY data/ ./data/
COPY app.py .
EXPOSE 8000
USER 1000
CMD ["python", "app.py"]
"""
APP = "import http.server\nhttp.server.ThreadingHTTPServer(('', 8000), http.server.SimpleHTTPRequestHandler)" \
      ".serve_forever()\n"


def make_files(total_bytes: int, seed: int = 7) -> dict[str, bytes]:
    """A Dockerfile, app.py and ``data/*.txt`` files of random words (compressible, not trivially so),
    ``total_bytes`` of file content in all."""
    rng = random.Random(seed)
    files: dict[str, bytes] = {"Dockerfile": DOCKERFILE.encode(), "app.py": APP.encode()}
    remaining = max(total_bytes - sum(len(v) for v in files.values()), 0)
    index = 0
    while remaining > 0:
        size = min(remaining, 64 << 10)
        words: list[str] = []
        length = 0
        while length < size:
            word = rng.choice(WORDS) + (f"-{rng.randrange(10_000)}" if rng.random() < 0.3 else "")
            words.append(word)
            length += len(word) + 1
        files[f"data/part-{index:03d}.txt"] = " ".join(words).encode()[:size]
        remaining -= size
        index += 1
    return files


def pack(files: dict[str, bytes]) -> bytes:
    """The context as ``az acr build`` uploads it: a gzip'd tar."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 1_700_000_000, 0o644
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def bench(context_bytes: int = 1 << 20, builds: int = 3) -> dict[str, Any]:
    import requests
    from azure.mgmt.containerregistrytasks import ContainerRegistryTasksMgmtClient
    from azure.mgmt.containerregistrytasks.models import DockerBuildRequest, PlatformProperties

    from pytest_acalab.emulator import Emulator

    if builds < 1 or context_bytes < 1:
        raise ValueError(f"builds and context_bytes must be >= 1, got {builds} and {context_bytes}")
    rows: list[dict[str, Any]] = []
    with Emulator(profile="fast") as emu:
        rg = f"/subscriptions/{emu.subscription_id}/resourceGroups/rg-bench"
        emu.platform.call("PUT", rg, {"location": "koreacentral"}, "2024-03-01")
        emu.platform.call("PUT", f"{rg}/providers/Microsoft.ContainerRegistry/registries/acrbench",
                          {"location": "koreacentral", "sku": {"name": "Basic"}}, "2023-07-01")
        tasks = ContainerRegistryTasksMgmtClient(emu.credential(), emu.subscription_id, **emu.client_kwargs())
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            reg = emu.platform.call("GET", f"{rg}/providers/Microsoft.ContainerRegistry/registries/acrbench",
                                    None, "2023-07-01").payload()
            if reg["properties"]["provisioningState"] == "Succeeded":
                break
            time.sleep(0.01)
        tasks.registries.get_build_source_upload_url("rg-bench", "acrbench")  # imports, token, connection
        session = requests.Session()
        for n in range(builds):
            files = make_files(context_bytes, seed=n)
            raw = sum(len(v) for v in files.values())
            t0 = time.perf_counter()
            archive = pack(files)
            t_pack = time.perf_counter()
            upload = tasks.registries.get_build_source_upload_url("rg-bench", "acrbench")
            resp = session.put(upload.upload_url, data=archive, headers={"x-ms-blob-type": "BlockBlob"},
                               verify=emu.ca_bundle, timeout=(10, 120))
            resp.raise_for_status()
            t_upload = time.perf_counter()
            request = DockerBuildRequest(image_names=[f"bench:v{n}"], is_push_enabled=True,
                                         source_location=upload.relative_path, docker_file_path="Dockerfile",
                                         platform=PlatformProperties(os="Linux"))
            run = tasks.registries.schedule_run("rg-bench", "acrbench", request)
            run_id = run.run_id
            t_scheduled = time.perf_counter()
            status, polls = run.status, 0
            while status not in TERMINAL:
                if time.perf_counter() - t_scheduled > 60:
                    raise RuntimeError(f"run {run_id} still {status} after 60 s")
                time.sleep(POLL_SECONDS)
                current = tasks.runs.get("rg-bench", "acrbench", run_id)
                status, polls = current.status, polls + 1
            t_done = time.perf_counter()
            if status != "Succeeded":
                raise RuntimeError(f"run {run_id} ended {status}")
            rows.append({"run_id": run_id, "archive_bytes": len(archive), "context_bytes": raw,
                         "pack_ms": round((t_pack - t0) * 1000, 1),
                         "upload_ms": round((t_upload - t_pack) * 1000, 1),
                         "schedule_ms": round((t_scheduled - t_upload) * 1000, 1),
                         "run_ms": round((t_done - t_scheduled) * 1000, 1), "polls": polls,
                         "total_ms": round((t_done - t0) * 1000, 1)})
        session.close()
    totals = [r["total_ms"] for r in rows]
    after = median([r["total_ms"] - r["pack_ms"] for r in rows])
    return {
        "summary": [f"ACR Tasks build of a {rows[0]['context_bytes'] / 2**20:.2f} MB context as az acr build does it "
                    f"(fast profile): {median(totals):.0f} ms wall, {after:.0f} ms of it after packing the tar.gz "
                    "(no target)"],
        "figures": [
            figure(GROUP, "acr_build_wall", median(totals), "ms",
                   note=f"median of {builds} build(s) of a {rows[0]['context_bytes'] / 2**20:.2f} MB context "
                        f"({rows[0]['archive_bytes'] / 2**10:.0f} KiB tar.gz), fast profile: pack, upload URL, "
                        "blob PUT, scheduleRun, runs.get until Succeeded"),
            figure(GROUP, "acr_build_after_pack", after, "ms",
                   note="the same without packing the context: what the emulator and the SDK take"),
        ],
        "details": {"builds": rows, "poll_seconds": POLL_SECONDS},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--context-bytes", type=int, default=1 << 20)
    parser.add_argument("--builds", type=int, default=3)
    args = parser.parse_args()
    print(json.dumps(bench(args.context_bytes, args.builds), indent=2))


if __name__ == "__main__":
    main()
