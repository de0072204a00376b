"""Who may call the gateway and where callers may make it connect: principals, scopes and
credentials, the ``[auth]``, ``[limits]`` and ``[cors]`` tables, route authorizers and usage plans,
AWS credentials (SigV4), what an authorizer established about a request, and the egress policy."""
