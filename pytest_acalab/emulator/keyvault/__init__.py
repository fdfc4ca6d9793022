"""Microsoft.KeyVault: vaults, their secrets, and the secrets data plane."""
