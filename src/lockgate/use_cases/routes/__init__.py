"""Routes: an HTTP request through its guard and a function and back
(``GatewayRequestProcessor``), in API Gateway's shapes (``apigw``); CORS."""
