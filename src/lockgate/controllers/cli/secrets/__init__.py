"""``lockgate secrets``: values, the master key's life, and what those commands share."""
