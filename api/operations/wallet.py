"""A key's BIP-32 side: its extended public key and the child key and address at a path."""

from __future__ import annotations

from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from api.derivation import checked_path, child, family_of, root_xpub
from api.errors import ApiError
from mpc.db.models import Key
from mpc.hd import present_child

PATH_MAX_LENGTH = 1024


class XpubPublic(BaseModel):
    key_id: str
    xpub: str = Field(description="BIP-32 extended public key of the key (depth 0, mainnet `xpub` version)")
    public_key: str = Field(description="the compressed secp256k1 group key, hex")
    chain_code: str = Field(description="BIP-32 chain code, hex: made jointly at keygen (no party picks it)")


class AddressPublic(BaseModel):
    key_id: str
    path: str
    public_key: str = Field(description="the child's public key as the key's own is shown (Taproot: x-only)")
    verifying_key: str = Field(description="the key the child's signatures verify under (Taproot: output key)")
    address: str = Field(description="the child's address on the key's chain")
    xpub: str = Field(description="the child's extended public key")


async def _key(db: AsyncSession, key_id: str) -> Key:
    key = await db.get(Key, key_id)
    if key is None:
        raise ApiError(404, "key_not_found", f"key {key_id} does not exist")
    return key


async def get_xpub(db: AsyncSession, key_id: str) -> XpubPublic:
    key = await _key(db, key_id)
    xpub = root_xpub(key)
    return XpubPublic(key_id=key_id, xpub=xpub.to_base58(), public_key=xpub.public_key.hex(),
                      chain_code=xpub.chain_code.hex())


async def get_address(db: AsyncSession, key_id: str, path: str) -> AddressPublic:
    """The child at `path` ("m": the key itself); 422 for a hardened or malformed path (api/derivation.py)."""
    key = await _key(db, key_id)
    canonical = checked_path(key, path, field="path") or "m"
    derived = child(key, canonical)
    forms = present_child(family_of(key), key.curve, key.chain_type, derived.public_key)
    return AddressPublic(key_id=key_id, path=canonical, public_key=forms["public_key"],
                         verifying_key=forms["verifying_key"], address=forms["address"],
                         xpub=derived.xpub.to_base58())
