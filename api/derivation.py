"""The API's checks of a `derivation_path` (before anything starts) and a key's BIP-32 children."""

from __future__ import annotations

from api.errors import ApiError
from mpc.db.models import Key
from mpc.hd import (
    DerivationError,
    HardenedDerivationError,
    NoChainCodeError,
    canonical_path,
    derive,
    extended_key,
    key_chain_code,
)
from mpc.protocols import KEY_PROTOCOLS
from tss.hd import Derived, ExtendedPublicKey


def checked_path(key: Key, path: str | None, *, field: str = "derivation_path") -> str | None:
    """The canonical path (None: the key itself); 422 `hardened_not_possible`, `derivation_not_supported`
    (Ed25519), `invalid_derivation_path` or `no_chain_code`."""
    try:
        canonical = canonical_path(path, key.curve)
    except HardenedDerivationError as exc:
        raise ApiError(422, "hardened_not_possible", str(exc), field=field) from None
    except DerivationError as exc:
        code = "derivation_not_supported" if key.curve not in ("secp256k1", "secp256k1-tr") else \
            "invalid_derivation_path"
        raise ApiError(422, code, str(exc), field=field) from None
    if canonical is not None:
        child(key, canonical, field=field)  # the key must have a chain code, and the child must exist
    return canonical


def root_xpub(key: Key) -> ExtendedPublicKey:
    if key.curve not in ("secp256k1", "secp256k1-tr"):
        raise ApiError(422, "derivation_not_supported", f"{key.curve} keys have no BIP-32 extended key "
                                                        "(BIP-32 defines no non-hardened Ed25519 derivation)")
    package = (key.public_data or {}).get("package") or {}
    if not package.get("group_public_key"):
        raise ApiError(409, "key_not_active", f"key {key.key_id} has no public key yet ({key.status})")
    try:
        return extended_key(package["group_public_key"], key_chain_code(key.public_data))
    except NoChainCodeError as exc:
        raise ApiError(422, "no_chain_code", str(exc)) from None


def child(key: Key, path: str, *, field: str = "path") -> Derived:
    xpub = root_xpub(key)
    try:
        return derive(xpub.public_key.hex(), xpub.chain_code.hex(), path)
    except DerivationError as exc:
        raise ApiError(422, "invalid_derivation_path", str(exc), field=field) from None


def family_of(key: Key) -> str:
    return KEY_PROTOCOLS[key.protocol].family.value
