"""The egress policy of inline resources, applied when each driver connects."""
