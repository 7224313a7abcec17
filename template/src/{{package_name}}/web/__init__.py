"""The FastAPI adapter: routes and middleware. The only package that knows the framework."""
