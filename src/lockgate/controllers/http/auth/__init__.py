"""Who may call what over HTTP: the access table and its gate, the answers given before any
endpoint runs, signed (SigV4) bodies, browsers (CORS), ``Host`` names, and the tokens and
API keys APIs."""
