"""FROST threshold Schnorr signatures (RFC 9591) for Ed25519, secp256k1 and secp256k1 Taproot.

Ciphersuites: ``get_ciphersuite("ed25519" | "secp256k1" | "secp256k1-tr")``.

Keys:
    ``FrostDkg`` / ``FrostRefresh`` / ``FrostReshare`` (tss.protocol.RoundProtocol, 3 rounds each;
    build round-1 state with their ``initial_state(...)``), or ``trusted_dealer_keygen`` for import.
    ``KeyShare.to_bytes()/from_bytes()`` (secret), ``PublicKeyPackage.to_dict()/from_dict()``.

Signing (RFC 9591 §5):
    ``commit(suite, key_share, rng=None) -> (SigningNonces, SigningCommitments)`` (or ``preprocess``
    for a batch); ``sign(suite, key_share, nonces, message, commitments, *, taproot=None)
    -> SignatureShare`` (consumes the nonces: one use); ``aggregate(suite, public, message,
    commitments, shares, *, taproot=None, verify_shares=False) -> bytes``;
    ``verify(suite, public_key, message, signature, *, taproot=None) -> bool``.

Taproot: for secp256k1-tr, ``taproot=None`` signs plain BIP-340 under the internal group key;
``TaprootTweak()`` is a BIP-86 key-path spend (no script tree), ``TaprootTweak(merkle_root)`` a
key-path spend of an output with scripts; ``taproot_output_key`` gives the output key.
"""

from tss.frost.aggregate import aggregate, verify, verify_signature_share
from tss.frost.ciphersuite import Ciphersuite, get_ciphersuite
from tss.frost.keys import KeyShare, PublicKeyPackage, keys_from_coefficients, trusted_dealer_keygen
from tss.frost.protocols import FrostDkg, FrostRefresh, FrostReshare
from tss.frost.round1 import SigningCommitments, SigningNonces, commit, preprocess
from tss.frost.round2 import SignatureShare, sign
from tss.frost.taproot import TaprootTweak, taproot_output_key
from tss.frost.vss_wire import EchoMismatchError

__all__ = [
    "Ciphersuite",
    "EchoMismatchError",
    "FrostDkg",
    "FrostRefresh",
    "FrostReshare",
    "KeyShare",
    "PublicKeyPackage",
    "SignatureShare",
    "SigningCommitments",
    "SigningNonces",
    "TaprootTweak",
    "aggregate",
    "commit",
    "get_ciphersuite",
    "keys_from_coefficients",
    "preprocess",
    "sign",
    "taproot_output_key",
    "trusted_dealer_keygen",
    "verify",
    "verify_signature_share",
]
