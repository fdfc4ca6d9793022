"""What a run reports: experiment logs, the journal, lab pages, and the scrubbing of secrets from all of it."""
