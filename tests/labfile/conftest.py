# The malformed corpus and the worked example are data for these tests, not labs to collect.
collect_ignore_glob = ["malformed/*", "valid/*"]
