"""A lab author's tooling: ``acalab new`` scaffolds a lab folder that runs green on the emulator."""
