"""Microsoft.App: managed environments, container apps, revisions, replicas, system logs."""
