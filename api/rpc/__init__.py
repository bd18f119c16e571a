"""The gRPC API (GRPC_PORT): servicers generated from api/rpc/v1/signer.proto, each method a thin translation
onto the same operation the REST route calls (api/operations)."""
