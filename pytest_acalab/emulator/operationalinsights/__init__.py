"""Microsoft.OperationalInsights: workspaces, log ingestion and KQL queries."""
