"""The hardened HTTP listener: its protocol and limits, the addresses it listens on and
what each serves, and request paths resolved before routing."""
