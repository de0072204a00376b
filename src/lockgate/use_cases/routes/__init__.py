"""Routes: an HTTP request through a function and back (``GatewayRequestProcessor``), as API
Gateway builds its proxy events and reads its handlers' responses; CORS."""
