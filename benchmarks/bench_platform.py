"""SDK round trip to the emulator: ``ResourceManagementClient.resource_groups.get``, median and p90.

    python -m benchmarks.bench_platform [--calls 200]

Target: median <= 5 ms. Also reported: the emulator's start time (CA minted, TLS listener up) and its stop
time with a registry listener and the CONNECT proxy open (every lab run and emulator fixture pays it).
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from benchmarks import figure, median, percentile, verdict

GROUP = "platform"
WARMUP = 5


def bench(calls: int = 200) -> dict[str, Any]:
    from azure.mgmt.resource.resources import ResourceManagementClient

    from pytest_acalab.emulator import Emulator

    if calls < 1:
        raise ValueError(f"calls must be >= 1, got {calls}")
    t0 = time.perf_counter()
    emu = Emulator(profile="fast").start()
    start_ms = (time.perf_counter() - t0) * 1000
    try:
        client = ResourceManagementClient(emu.credential(), emu.subscription_id, polling_interval=0,
                                          **emu.client_kwargs())
        client.resource_groups.create_or_update("rg-bench", {"location": "koreacentral"})
        for _ in range(WARMUP):  # token, TLS session, connection pool
            client.resource_groups.get("rg-bench")
        times = []
        for _ in range(calls):
            t = time.perf_counter()
            group = client.resource_groups.get("rg-bench")
            times.append((time.perf_counter() - t) * 1000)
        if group.name != "rg-bench":
            raise RuntimeError(f"resource_groups.get answered {group.name!r}")
        emu.registry_endpoint("acrbench.azurecr.io")
        assert emu.proxy_url
    finally:
        t0 = time.perf_counter()
        emu.stop()
        stop_ms = (time.perf_counter() - t0) * 1000
    med, p90 = median(times), percentile(times, 90)
    main_fig = figure(GROUP, "sdk_round_trip_median", med, "ms", target=5.0,
                   note=f"ResourceManagementClient.resource_groups.get over HTTPS, {calls} calls after {WARMUP} "
                        "warm-up calls")
    return {
        "summary": [f"SDK round trip to the emulator (ResourceManagementClient.resource_groups.get, {calls} calls): "
                    f"median {med:.2f} ms, p90 {p90:.2f} ms ({verdict(main_fig)} for the median); emulator start "
                    f"{start_ms:.0f} ms, stop {stop_ms:.0f} ms"],
        "figures": [
            main_fig,
            figure(GROUP, "sdk_round_trip_p90", p90, "ms"),
            figure(GROUP, "emulator_start", start_ms, "ms",
                   note="Emulator(profile='fast') built and started (providers, CA minted, TLS listener)"),
            figure(GROUP, "emulator_stop", stop_ms, "ms",
                   note="Emulator.stop() with three listeners (ARM, a registry, the CONNECT proxy) and no replicas"),
        ],
        "details": {"calls": calls, "min_ms": round(min(times), 3), "p99_ms": round(percentile(times, 99), 3),
                    "max_ms": round(max(times), 3)},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=200)
    print(json.dumps(bench(parser.parse_args().calls), indent=2))


if __name__ == "__main__":
    main()
