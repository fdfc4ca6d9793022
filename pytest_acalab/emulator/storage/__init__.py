"""Microsoft.Storage: storage accounts, their keys and Azure Files shares (to the depth environment storages need)."""
