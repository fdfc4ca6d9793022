"""Where labs run (the emulator or Azure): a credential and endpoints, and the SDK clients built from them."""
