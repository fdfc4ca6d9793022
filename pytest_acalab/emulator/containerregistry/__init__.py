"""Microsoft.ContainerRegistry: registries, ACR Tasks builds, import, and the OCI data plane."""
