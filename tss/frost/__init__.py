"""FROST threshold Schnorr signatures (RFC 9591) for Ed25519, secp256k1 and secp256k1 Taproot."""

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
