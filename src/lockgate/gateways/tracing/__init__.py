"""Traces: the tracing port and its OpenTelemetry adapter (imported only when tracing is on)."""
