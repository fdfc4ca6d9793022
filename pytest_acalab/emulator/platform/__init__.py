"""What every emulated provider stands on: HTTPS, ARM routing and errors, LROs, the clock, tokens, state."""
