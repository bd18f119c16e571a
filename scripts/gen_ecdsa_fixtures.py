"""Generate the GG18/GG20 test pre-parameters once (slow: safe primes), for tests/fixtures/ecdsa/.

Usage:  .venv/bin/python scripts/gen_ecdsa_fixtures.py [--count 30] [--bits 2048] [--out DIR]

The committed fixture holds 50 sets (30, then 20 more made with --count 20 and appended): tests/stack.py gives
each of its five participants ten (every ECDSA keygen, refresh and reshare takes one per new holder).

Writes:
  preparams.jsonl  `tss.paillier.PreParamsPool` format (one party's Paillier + ring-Pedersen secret
                   per line). TEST MATERIAL ONLY: these secrets are public in the repository.
  malicious.json   a 2048-bit N = 16 primes of 16 bits × one large prime (BitForge, SECURITY.md test 1).
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import time
from pathlib import Path

import gmpy2

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tss.paillier import PreParamsPool, generate_preparams


def smooth_modulus(bits: int) -> dict[str, object]:
    small: list[int] = []
    while len(small) < 16:
        cand = int(gmpy2.next_prime(secrets.randbits(16) | (1 << 15)))
        if cand not in small and cand.bit_length() == 16:
            small.append(cand)
    prod = 1
    for f in small:
        prod *= f
    while True:
        target = bits - prod.bit_length()
        big = int(gmpy2.next_prime(secrets.randbits(target) | (1 << (target - 1))))
        n = prod * big
        if n.bit_length() == bits and n % 4 == 1:
            return {"n": format(n, "x"), "small_factors": small, "big": format(big, "x")}
        if n.bit_length() == bits + 1:
            target -= 1


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=30)
    ap.add_argument("--bits", type=int, default=2048)
    ap.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "tests/fixtures/ecdsa"))
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    pool = PreParamsPool(bits=args.bits)
    for i in range(args.count):
        start = time.perf_counter()
        pool.put(generate_preparams(args.bits))
        print(f"pre-params {i + 1}/{args.count}: {time.perf_counter() - start:.1f}s", flush=True)
    (out / "preparams.jsonl").write_text(pool.dumps())
    (out / "malicious.json").write_text(json.dumps({"bits": args.bits, "smooth": smooth_modulus(args.bits)}, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
