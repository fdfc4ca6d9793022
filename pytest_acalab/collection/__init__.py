"""How pytest finds labs: a lab folder is a directory node, its lab.yaml yields one item per row and phase."""
