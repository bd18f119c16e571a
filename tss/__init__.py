"""Pure threshold-signature math: groups, secret sharing, FROST, GG18/GG20, Paillier, proofs.

No I/O, no Temporal, no database: everything here is a function of its inputs and an injected
randomness source (`tss.rng`).
"""

from tss.errors import EncodingError, InvalidInputError, NonceReuseError, ProtocolError, TssError
from tss.messages import BROADCAST, RoundMessage
from tss.rng import FixedRng, Rng, SystemRng

__all__ = [
    "BROADCAST",
    "EncodingError",
    "FixedRng",
    "InvalidInputError",
    "NonceReuseError",
    "ProtocolError",
    "Rng",
    "RoundMessage",
    "SystemRng",
    "TssError",
]
