"""Microsoft.Authorization: role assignments (AcrPull and friends) at resource scopes."""
