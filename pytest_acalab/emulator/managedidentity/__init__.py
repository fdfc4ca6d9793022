"""Microsoft.ManagedIdentity: user-assigned identities."""
