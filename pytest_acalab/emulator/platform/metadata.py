"""ARM's cloud metadata (``GET /metadata/endpoints``): what ``az cloud register`` reads."""

from __future__ import annotations

from collections.abc import Callable

from pytest_acalab.emulator.platform.hosts import PublicUrls
from pytest_acalab.emulator.platform.http import Request, Response


def cloud_metadata(urls: PublicUrls) -> dict:
    """AzureCloud's own entry in cloud-faithful mode; a custom cloud named after the emulator otherwise."""
    base_url = urls.management
    return {
        "name": "AzureCloud" if urls.cloud else "AcalabEmulator",
        "portal": "https://portal.azure.com" if urls.cloud else base_url,
        "resourceManager": f"{base_url}/",
        "authentication": {
            "loginEndpoint": f"{urls.login}/" if not urls.cloud else urls.login,
            "audiences": ["https://management.core.windows.net/", "https://management.azure.com/"],
            "tenant": "common",
            "identityProvider": "AAD",
        },
        "media": base_url,
        "graphAudience": "https://graph.windows.net/",
        "graph": "https://graph.windows.net/",
        "sqlManagement": "https://management.core.windows.net:8443/",
        "microsoftGraphResourceId": "https://graph.microsoft.com/",
        "appInsightsResourceId": "https://api.applicationinsights.io",
        "appInsightsTelemetryChannelResourceId": "https://dc.applicationinsights.azure.com/v2/track",
        "attestationResourceId": "https://attest.azure.net",
        "synapseAnalyticsResourceId": "https://dev.azuresynapse.net",
        "logAnalyticsResourceId": "https://api.loganalytics.io",
        "ossrDbmsResourceId": "https://ossrdbms-aad.database.windows.net",
        "suffixes": {
            "azureDataLakeStoreFileSystem": "azuredatalakestore.net",
            "acrLoginServer": "azurecr.io",
            "sqlServerHostname": "database.windows.net",
            "azureDataLakeAnalyticsCatalogAndJob": "azuredatalakeanalytics.net",
            "keyVaultDns": "vault.azure.net",
            "storage": "core.windows.net",
            "azureFrontDoorEndpointSuffix": "azurefd.net",
            "storageSyncEndpointSuffix": "afs.azure.net",
            "mhsmDns": "managedhsm.azure.net",
            "mysqlServerEndpoint": "mysql.database.azure.com",
            "postgresqlServerEndpoint": "postgres.database.azure.com",
            "mariadbServerEndpoint": "mariadb.database.azure.com",
            "synapseAnalytics": "dev.azuresynapse.net",
            "attestationEndpoint": "attest.azure.net",
        },
        "batch": "https://batch.core.windows.net/",
        "gallery": "https://gallery.azure.com/",
        "activeDirectoryDataLake": "https://datalake.azure.net/",
    }


def metadata_endpoints(urls: PublicUrls) -> Callable[[Request], Response]:
    def handler(req: Request) -> Response:
        return Response.json(200, cloud_metadata(urls))
    return handler
