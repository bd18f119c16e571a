"""A key's BIP-32 side: its extended public key and the child key and address at a path.
The work is in api/operations/wallet.py, shared with the gRPC API."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import CurrentPrincipal, DbSession
from api.errors import error_responses
from api.operations import wallet as operations
from api.operations.wallet import AddressPublic, XpubPublic

router = APIRouter(prefix="/v1/keys", tags=["keys"], responses=error_responses(401, 404, 409, 422))


@router.get("/{key_id}/xpub", response_model=XpubPublic, summary="The key as a BIP-32 extended public key",
            responses={200: {"description": "the xpub (secp256k1 keys)"}})
async def get_xpub(key_id: str, db: DbSession, _: CurrentPrincipal) -> XpubPublic:
    return await operations.get_xpub(db, key_id)


@router.get("/{key_id}/addresses", response_model=AddressPublic, summary="A BIP-32 child's key and address",
            responses={200: {"description": "the child at `path` (m: the key itself)"}})
async def get_address(key_id: str, db: DbSession, _: CurrentPrincipal,
                      path: Annotated[str, Query(max_length=operations.PATH_MAX_LENGTH,
                                                 description="non-hardened BIP-32 path, e.g. m/0/17")]
                      ) -> AddressPublic:
    return await operations.get_address(db, key_id, path)
