"""The gateway's own log lines written fast: function output and the access log."""
