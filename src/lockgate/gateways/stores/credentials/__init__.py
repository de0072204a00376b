"""Tokens and API keys (hashed) and API keys' usage counts, on the run store's database."""
