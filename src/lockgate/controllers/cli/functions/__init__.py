"""The function commands: ``lockgate invoke``, ``lockgate functions`` and
``lockgate generate-event``."""
