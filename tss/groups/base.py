"""The prime-order group interface every threshold protocol in `tss` is written against.

Layering (CONVENTIONS "Protocol code"): integers and points here, byte encodings beside them,
protocol state machines above. Scalars are plain Python ints reduced mod `order`; elements are
opaque `Element` values holding their canonical encoding. Every multiplication of an element by a
(possibly secret) scalar goes through libsecp256k1 or libsodium (SECURITY.md H3), never through
Python double-and-add.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from tss.errors import EncodingError
from tss.rng import Rng, resolve_rng


@dataclass(frozen=True, slots=True)
class Element:
    """A group element, held as its canonical encoding (the identity has a group-specific tag).

    Equality is byte equality, which is sound because every constructor canonicalises.
    """

    data: bytes

    def __repr__(self) -> str:
        return f"Element({self.data.hex()})"


class Group(ABC):
    """A prime-order group (RFC 9591 §3.1 "Prime-Order Group").

    Attributes:
        name: short name, e.g. ``"secp256k1"``.
        order: the prime order q of the group (scalar field modulus).
        scalar_len: Ns, bytes of a serialised scalar.
        element_len: Ne, bytes of a serialised element.
        byteorder: scalar byte order of the ciphersuite (``"big"`` or ``"little"``).
    """

    name: str
    order: int
    scalar_len: int
    element_len: int
    byteorder: Literal["big", "little"]
    identity: Element
    generator: Element

    # ---- element arithmetic -------------------------------------------------------------
    @abstractmethod
    def add(self, a: Element, b: Element) -> Element:
        """a + b (handles the identity and sums that cancel)."""

    @abstractmethod
    def neg(self, a: Element) -> Element:
        """-a."""

    def sub(self, a: Element, b: Element) -> Element:
        """a - b."""
        return self.add(a, self.neg(b))

    @abstractmethod
    def mul(self, a: Element, k: int) -> Element:
        """k·a through the native library (safe for a secret k)."""

    @abstractmethod
    def base_mul(self, k: int) -> Element:
        """k·G through the native library (safe for a secret k)."""

    def is_identity(self, a: Element) -> bool:
        return a == self.identity

    def sum(self, elements: Iterable[Element]) -> Element:
        """Σ elements (identity for an empty iterable)."""
        acc = self.identity
        for e in elements:
            acc = self.add(acc, e)
        return acc

    def lincomb(self, pairs: Iterable[tuple[int, Element]]) -> Element:
        """Σ k_i·P_i."""
        return self.sum(self.mul(p, k) for k, p in pairs)

    # ---- encodings (RFC 9591 §3.1 SerializeElement / DeserializeElement / ...Scalar) --------
    @abstractmethod
    def _decode_point(self, data: bytes) -> Element:
        """Decode and fully validate a non-identity element (canonical, on curve, prime order)."""

    def serialize_element(self, a: Element) -> bytes:
        """SerializeElement: canonical bytes; the identity has no encoding and raises."""
        if self.is_identity(a):
            raise EncodingError(f"{self.name}: the identity element cannot be serialised")
        return a.data

    def deserialize_element(self, data: bytes) -> Element:
        """DeserializeElement: exactly Ne canonical bytes of a prime-order, non-identity point."""
        if not isinstance(data, bytes | bytearray) or len(data) != self.element_len:
            raise EncodingError(f"{self.name}: element must be {self.element_len} bytes")
        return self._decode_point(bytes(data))

    def serialize_element_or_identity(self, a: Element) -> bytes:
        """Encoding that admits the identity (Ne bytes; used where the identity is expected)."""
        if self.is_identity(a):
            return self._identity_encoding()
        return a.data

    def deserialize_element_or_identity(self, data: bytes) -> Element:
        if bytes(data) == self._identity_encoding():
            return self.identity
        return self.deserialize_element(data)

    @abstractmethod
    def _identity_encoding(self) -> bytes:
        """Ne bytes standing for the identity in `serialize_element_or_identity`."""

    def serialize_scalar(self, k: int) -> bytes:
        """SerializeScalar: Ns bytes in the ciphersuite's byte order."""
        if not 0 <= k < self.order:
            raise EncodingError(f"{self.name}: scalar out of range")
        return k.to_bytes(self.scalar_len, self.byteorder)

    def deserialize_scalar(self, data: bytes) -> int:
        """DeserializeScalar: exactly Ns bytes encoding an integer < order."""
        if not isinstance(data, bytes | bytearray) or len(data) != self.scalar_len:
            raise EncodingError(f"{self.name}: scalar must be {self.scalar_len} bytes")
        k = int.from_bytes(data, self.byteorder)
        if k >= self.order:
            raise EncodingError(f"{self.name}: scalar not reduced mod the group order")
        return k

    # ---- scalars ----------------------------------------------------------------------------
    def random_scalar(self, rng: Rng | None = None) -> int:
        """Uniform scalar in [0, q) (SECURITY.md N6)."""
        return resolve_rng(rng).randbelow(self.order)

    def random_nonzero_scalar(self, rng: Rng | None = None) -> int:
        """Uniform scalar in [1, q)."""
        return 1 + resolve_rng(rng).randbelow(self.order - 1)

    def inv(self, k: int) -> int:
        if k % self.order == 0:
            raise ValueError("zero has no inverse")
        return pow(k, -1, self.order)


__all__ = ["Element", "Group"]
