"""Who may call the gateway: tokens and API keys, principals, surfaces and their scopes."""
