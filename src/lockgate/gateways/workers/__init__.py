"""Where invocations run on this machine: worker processes (``python -m lockgate.worker``),
custom runtimes, in-process fakes, and the launcher that picks one per function."""
