"""API routers, assembled in `api.app`."""
