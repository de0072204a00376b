"""What every leased work queue's consumer shares: the backoff between attempts and the
dispatcher that claims, runs and settles items (event deliveries, ``Event`` invocations)."""
