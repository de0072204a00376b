"""API Gateway's shapes: the proxy events a handler gets (payload format 1.0 and 2.0), the
identity a route's authorizer and API key add to them, and how a handler's return value
becomes the HTTP response. Routes and the route authorizers both speak them."""
