"""``lockgate tokens`` and ``lockgate api-keys``: credentials kept, hashed, in the gateway's
store, and what those commands share."""
