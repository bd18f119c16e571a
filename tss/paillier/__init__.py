"""Paillier encryption and pre-parameters (Paillier key + ring-Pedersen) for GG18/GG20."""

from tss.paillier.keys import DEFAULT_MODULUS_BITS, MIN_MODULUS_BITS, PaillierPrivateKey, PaillierPublicKey
from tss.paillier.preparams import (
    PreParams,
    PreParamsPool,
    RingPedersenParams,
    RingPedersenSecret,
    generate_preparams,
)
from tss.paillier.primes import blum_prime, safe_prime

__all__ = [
    "DEFAULT_MODULUS_BITS",
    "MIN_MODULUS_BITS",
    "PaillierPrivateKey",
    "PaillierPublicKey",
    "PreParams",
    "PreParamsPool",
    "RingPedersenParams",
    "RingPedersenSecret",
    "blum_prime",
    "generate_preparams",
    "safe_prime",
]
