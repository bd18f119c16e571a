"""The API's operations, one implementation each, behind both front ends: the REST routes (api/routes) and the
gRPC servicers (api/rpc). Each takes a `Caller` (state, database session, authenticated principal) and typed
input, returns a response schema, and raises `ApiError` with the stable code; the front ends only translate."""

from api.operations.context import Caller, Outcome

__all__ = ["Caller", "Outcome"]
