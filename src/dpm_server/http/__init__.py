"""The HTTP edge: middleware, rate limiting, error rendering and the route dependencies."""
