"""Microsoft.Insights: diagnostic settings (the extension resource that routes a resource's logs)."""
