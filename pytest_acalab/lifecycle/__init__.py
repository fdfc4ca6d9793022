"""A lab's life: resource group, deployment, trigger, recovery, teardown; naming, tags, sweep, Bicep drift."""
