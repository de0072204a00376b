"""Lockgate's functions benchmark: ``python benchmarks/functions/run.py`` (see run.py)."""
