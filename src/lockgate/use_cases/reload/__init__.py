"""`lockgate serve --reload`: what changed files replace, and replacing it."""
