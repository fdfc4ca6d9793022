"""The host table and certificate coverage rules the proxy and TLS share."""

from __future__ import annotations

import pytest

from pytest_acalab.emulator.platform.hosts import HostTable, PublicUrls, path_style
from pytest_acalab.emulator.platform.tls import covered


@pytest.mark.parametrize(("host", "ok"), [
    ("management.azure.com", True), ("myacr.azurecr.io", True), ("a.b.azurecr.io", False),
    ("koreacentral.azurecontainerapps.dev", True), ("app.env.koreacentral.azurecontainerapps.io", False),
    ("azurecr.io", False), ("x.management.azure.com", False),
])
def test_a_wildcard_covers_exactly_one_label(host: str, ok: bool) -> None:
    assert covered(host) is ok


def test_routes_by_exact_name_one_label_or_any_depth_and_later_routes_win() -> None:
    table = HostTable()
    table.add_exact("management.azure.com", lambda h: 1)
    table.add_suffix(".azurecr.io", lambda h: 2)
    table.add_suffix("azurecontainerapps.io", lambda h: 3, any_depth=True)
    assert table.resolve("MANAGEMENT.azure.com.") == 1
    assert table.resolve("acr.azurecr.io") == 2 and table.resolve("a.b.azurecr.io") is None
    assert table.resolve("app--rev.env.koreacentral.azurecontainerapps.io") == 3
    assert table.resolve("azurecontainerapps.io") is None and table.resolve("example.com") is None
    table.add_suffix(".azurecontainerapps.io", lambda h: 4 if h.startswith("app") else None, any_depth=True)
    assert table.resolve("app.env.koreacentral.azurecontainerapps.io") == 4
    assert table.resolve("other.env.koreacentral.azurecontainerapps.io") is None  # replaced, not stacked
    assert table.may_serve("other.env.koreacentral.azurecontainerapps.io")  # the shape is still ours


def test_virtual_hosted_names_map_onto_path_style_routes() -> None:
    assert path_style("acct.blob.core.windows.net", "/c/b.tar.gz") == "/acct/c/b.tar.gz"
    assert path_style("1234.ods.opinsights.azure.com", "/api/logs") == "/ods/1234/api/logs"
    assert path_style("management.azure.com", "/subscriptions") == "/subscriptions"
    assert path_style("a.b.blob.core.windows.net", "/c") == "/c"


def test_public_urls_name_azure_hosts_only_in_cloud_mode() -> None:
    loop = PublicUrls("https://127.0.0.1:9")
    cloud = PublicUrls("https://127.0.0.1:9", cloud=True)
    assert (loop.management, loop.login, loop.logs) == ("https://127.0.0.1:9",) * 3
    assert loop.blob("acct") == "https://127.0.0.1:9/acct" and loop.event_stream("eastus") == "https://127.0.0.1:9"
    assert (cloud.management, cloud.login, cloud.logs) == (
        "https://management.azure.com", "https://login.microsoftonline.com", "https://api.loganalytics.io")
    assert cloud.blob("acct") == "https://acct.blob.core.windows.net"
    assert cloud.event_stream("eastus") == "https://eastus.azurecontainerapps.dev"
