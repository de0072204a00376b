"""API keys on routes and the usage plans that meter them: a token bucket per key (rate
and burst, per node) and a quota per key and period, counted across nodes."""
