"""``lockgate init`` and the project it makes (``template/``)."""
