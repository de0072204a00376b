"""Route authorizers, as API Gateway runs them: JWT authorizers (tokens checked against an
issuer's published keys) and Lambda authorizers (a declared function decides)."""
