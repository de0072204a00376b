"""What route authorizers reach over the network: identity providers' discovery documents
and signing key sets (JWKS)."""
