"""Configuration: validated settings, the ``lockgate.toml`` loader and its tables, where a
gateway's stores and files live, and problems worded for people."""
