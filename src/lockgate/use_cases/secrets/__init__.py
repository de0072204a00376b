"""Secrets: envelope encryption under a master key, rotation, opening them at start-up, and
redaction wherever a value could leak."""
