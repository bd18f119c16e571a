"""Secret-exponent modular exponentiation (SECURITY.md H2).

Built-in `pow()` and `gmpy2.powmod` run in time that depends on the exponent. Every exponentiation
whose exponent is secret (Paillier decryption and CRT, ring-Pedersen / Π^mod / Π^fac provers, Paillier
encryption randomness handled by the prover) goes through `powmod_secret`, a thin wrapper on
`gmpy2.powmod_sec` (GMP `mpz_powm_sec`).

`mpz_powm_sec` refuses exponent <= 0 and an even modulus, so those cases are handled here explicitly
instead of falling back to a variable-time routine:

* exponent 0: the result is 1 mod m (no exponentiation needed, no secret-dependent work);
* negative exponent: the base is inverted first (`gmpy2.invert`, the base being public or a
  uniformly random unit) and raised to ``-e`` with `powmod_sec`;
* even modulus: refused with `InvalidInputError`. No protocol in `tss` exponentiates a secret modulo
  an even number (Paillier N, N², Ñ and primes are odd), so an even modulus is a caller bug.

Python cannot promise constant time (allocation and operand sizes still leak, GMP manual §5.7); this
keeps the secret-dependent inner loop in GMP's side-channel-silent code.
"""

from __future__ import annotations

import gmpy2

from tss.errors import InvalidInputError

__all__ = ["powmod_secret"]


def powmod_secret(base: int, exponent: int, modulus: int) -> int:
    """Return ``base ** exponent mod modulus`` for a secret exponent.

    Args:
        base: any integer; reduced mod `modulus`. Must be a unit when `exponent` < 0.
        exponent: the secret exponent (any sign).
        modulus: odd modulus > 1.

    Raises:
        InvalidInputError: even modulus, modulus < 3, or non-invertible base with a negative exponent.
    """
    if modulus < 3 or modulus % 2 == 0:
        raise InvalidInputError("powmod_secret needs an odd modulus > 1")
    m = gmpy2.mpz(modulus)
    b = gmpy2.mpz(base) % m
    if exponent == 0:
        return 1
    if exponent < 0:
        try:
            b = gmpy2.invert(b, m)
        except ZeroDivisionError:
            raise InvalidInputError("base is not invertible for a negative exponent") from None
        exponent = -exponent
    return int(gmpy2.powmod_sec(b, gmpy2.mpz(exponent), m))
