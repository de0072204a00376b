"""Modules of a modular monolith: declarations, services, calls between modules, and the
import boundary check (``lockgate check``)."""
