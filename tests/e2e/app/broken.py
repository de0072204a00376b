"""A handler module that fails to import, as a typo in production code would."""

raise ImportError("this module is broken on purpose")
