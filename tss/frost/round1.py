"""FROST round one: nonce generation and commitments (RFC 9591 §4.1 nonce_generate, §5.1 commit).

A `SigningNonces` is used once. `sign` consumes it (marks it spent) before it computes anything;
a second use raises `NonceReuseError` (SECURITY.md N2). A node that persists nonces must mark the
stored copy consumed durably before the signature share leaves the node: the in-memory flag only
protects this process.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from tss.errors import EncodingError, InvalidInputError, NonceReuseError
from tss.frost.ciphersuite import Ciphersuite, get_ciphersuite
from tss.frost.keys import KeyShare
from tss.groups import Element
from tss.rng import Rng, resolve_rng

NONCE_RANDOM_BYTES = 32  # RFC 9591 §4.1


@dataclass(frozen=True, slots=True)
class SigningCommitments:
    """(identifier, hiding D_i, binding E_i) published in round one (RFC 9591 §5.1)."""

    identifier: int
    hiding: Element
    binding: Element

    def to_bytes(self, suite: Ciphersuite) -> bytes:
        """SerializeScalar(id) || SerializeElement(D) || SerializeElement(E) (RFC 9591 §4.3 order)."""
        g = suite.group
        return (
            g.serialize_scalar(self.identifier) + g.serialize_element(self.hiding) + g.serialize_element(self.binding)
        )

    @classmethod
    def from_bytes(cls, suite: Ciphersuite, data: bytes) -> SigningCommitments:
        """Parse with full validation (scalar range, canonical prime-order non-identity points)."""
        g = suite.group
        identifier, hiding, binding = _split_commitments(suite, data)
        return cls(identifier, g.deserialize_element(hiding), g.deserialize_element(binding))


def _split_commitments(suite: Ciphersuite, data: bytes) -> tuple[int, bytes, bytes]:
    """A commitment encoding's checked identifier, and its two point encodings (not yet decoded)."""
    g = suite.group
    ns, ne = g.scalar_len, g.element_len
    if len(data) != ns + 2 * ne:
        raise EncodingError("signing commitments have the wrong length")
    identifier = g.deserialize_scalar(data[:ns])
    if identifier == 0:
        raise EncodingError("identifier zero")
    return identifier, data[ns : ns + ne], data[ns + ne :]


class SigningNonces:
    """The secret nonce pair (d_i, e_i) of one signing session; one use only.

    Bound to the suite and signer identifier it was generated for. Never shown by repr.
    """

    __slots__ = ("_binding", "_hiding", "_spent", "commitments", "suite")

    def __init__(self, suite: str, hiding: int, binding: int, commitments: SigningCommitments) -> None:
        self.suite = suite
        self._hiding = hiding
        self._binding = binding
        self.commitments = commitments
        self._spent = False

    @property
    def identifier(self) -> int:
        return self.commitments.identifier

    @property
    def spent(self) -> bool:
        return self._spent

    def consume(self) -> tuple[int, int]:
        """Return (d, e) and mark the pair spent; raises NonceReuseError on a second call."""
        if self._spent:
            raise NonceReuseError("signing nonce already used")
        self._spent = True
        d, e = self._hiding, self._binding
        self._hiding = self._binding = 0
        return d, e

    def to_bytes(self) -> bytes:
        """Secret serialisation for encrypted persistence; refused once the nonce is spent."""
        if self._spent:
            raise NonceReuseError("a spent nonce cannot be serialised")
        suite = get_ciphersuite(self.suite)
        g = suite.group
        return json.dumps(
            {
                "version": 1,
                "suite": self.suite,
                "hiding": g.serialize_scalar(self._hiding).hex(),
                "binding": g.serialize_scalar(self._binding).hex(),
                "commitments": self.commitments.to_bytes(suite).hex(),
            },
            sort_keys=True,
            separators=(",", ":"),
        ).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> SigningNonces:
        """The stored nonces; their commitments must be exactly d·B and e·B.

        The commitment points are computed from the nonces and compared with the stored encodings, not
        decoded and validated: a multiple of the base point is a prime-order point by construction, so
        this checks as much as `SigningCommitments.from_bytes` without its two subgroup checks (a share
        round consumes one stored nonce per digest)."""
        try:
            obj = json.loads(data)
            suite = get_ciphersuite(obj["suite"])
            g = suite.group
            d = g.deserialize_scalar(bytes.fromhex(obj["hiding"]))
            e = g.deserialize_scalar(bytes.fromhex(obj["binding"]))
            stored = bytes.fromhex(obj["commitments"])
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, EncodingError):
                raise
            raise EncodingError("malformed signing nonces") from exc
        identifier, hiding_bytes, binding_bytes = _split_commitments(suite, stored)
        if d == 0 or e == 0:  # d·B would be the identity, which no commitment may be
            raise EncodingError("signing nonces do not match their commitments")
        hiding, binding = g.base_mul(d), g.base_mul(e)
        if (g.serialize_element(hiding), g.serialize_element(binding)) != (hiding_bytes, binding_bytes):
            raise EncodingError("signing nonces do not match their commitments")
        return cls(suite.name, d, e, SigningCommitments(identifier, hiding, binding))

    def __repr__(self) -> str:
        return f"SigningNonces(suite={self.suite}, identifier={self.identifier}, spent={self._spent}, <redacted>)"

    __str__ = __repr__


def nonce_generate(suite: Ciphersuite, secret: int, rng: Rng | None = None) -> int:
    """RFC 9591 §4.1: H3(random_bytes(32) || SerializeScalar(secret))."""
    random_bytes = resolve_rng(rng).token_bytes(NONCE_RANDOM_BYTES)
    return suite.H3(random_bytes + suite.group.serialize_scalar(secret))


def commit(suite: Ciphersuite, key_share: KeyShare, rng: Rng | None = None) -> tuple[SigningNonces, SigningCommitments]:
    """RFC 9591 §5.1 commit: fresh hiding and binding nonces and their commitments."""
    if key_share.suite != suite.name:
        raise InvalidInputError("key share belongs to another ciphersuite")
    rng = resolve_rng(rng)
    g = suite.group
    d = nonce_generate(suite, key_share.signing_share, rng)
    e = nonce_generate(suite, key_share.signing_share, rng)
    comms = SigningCommitments(key_share.identifier, g.base_mul(d), g.base_mul(e))
    return SigningNonces(suite.name, d, e, comms), comms


def preprocess(
    suite: Ciphersuite, key_share: KeyShare, count: int, rng: Rng | None = None
) -> list[tuple[SigningNonces, SigningCommitments]]:
    """Batch of `count` independent (nonces, commitments) pairs for a nonce pool."""
    if count < 1:
        raise InvalidInputError("count must be positive")
    rng = resolve_rng(rng)
    return [commit(suite, key_share, rng) for _ in range(count)]


__all__ = ["SigningCommitments", "SigningNonces", "commit", "nonce_generate", "preprocess"]
