"""Microsoft.Resources: subscriptions, resource groups, template deployments (and the template engine)."""
