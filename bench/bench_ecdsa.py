"""Benchmark GG18/GG20 on this machine; prints a markdown table.

Usage:  .venv/bin/python bench/bench_ecdsa.py [--preparams-runs 10] [--sign-runs 3] [--online-runs 20]

* pre-parameter generation (2048-bit: two Blum primes + two safe primes), mean and spread;
* keygen with a filled pool (the committed test pre-parameters), GG18 sign, GG20 presign, GG20
  online, reshare (t-of-n -> t-of-n refresh with fresh Paillier), for 2-of-3 and 3-of-5;
* times are per party: each party's own `run_round` calls summed (all parties run in one process,
  one after another, so wall time ≈ n × per-party time);
* "modexp share" is the fraction of the time spent in gmpy2 modular exponentiation (Paillier,
  ring-Pedersen, Π^mod/Π^prm/Π^fac), measured by wrapping gmpy2.powmod / powmod_sec.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("MPC_ALLOW_TEST_RNG", "1")

import gmpy2  # noqa: E402

import tss.zk.fixedbase as fixedbase  # noqa: E402
from tss.ecdsa.gg18 import GG18SignProtocol  # noqa: E402
from tss.ecdsa.gg20 import GG20PresignProtocol, GG20SignProtocol, MemoryPresignatureStore  # noqa: E402
from tss.ecdsa.keygen import KeygenProtocol  # noqa: E402
from tss.ecdsa.keyshare import KeyShare  # noqa: E402
from tss.ecdsa.reshare import ReshareProtocol  # noqa: E402
from tss.paillier import PreParamsPool, generate_preparams  # noqa: E402

EXP_TIME = [0.0]


def _wrap(fn):
    def inner(*a):
        t = time.perf_counter()
        try:
            return fn(*a)
        finally:
            EXP_TIME[0] += time.perf_counter() - t

    return inner


gmpy2.powmod = _wrap(gmpy2.powmod)
gmpy2.powmod_sec = _wrap(gmpy2.powmod_sec)
fixedbase.FixedBase.pow = _wrap(fixedbase.FixedBase.pow)


def drive(protocols: dict) -> tuple[dict, dict[int, float], float]:
    """Run all rounds; return (final outputs, per-party seconds, modexp seconds)."""
    EXP_TIME[0] = 0.0
    states = {pid: p.initial_state() for pid, p in protocols.items()}
    per = dict.fromkeys(protocols, 0.0)
    inbox: dict = {pid: [] for pid in protocols}
    outputs: dict = {}
    for rnd in range(1, next(iter(protocols.values())).total_rounds + 1):
        produced = []
        for pid, proto in protocols.items():
            t = time.perf_counter()
            out = proto.run_round(rnd, states[pid], inbox[pid])
            per[pid] += time.perf_counter() - t
            states[pid], outputs[pid] = out.state, out
            produced.extend(out.outbound)
        inbox = {
            pid: [m for m in produced if m.sender != pid and (m.is_broadcast or m.recipient == pid)]
            for pid in protocols
        }
    return outputs, per, EXP_TIME[0]


ROWS: list[tuple[str, str, float, float, float]] = []


def record(op: str, setting: str, pers: list[dict[int, float]], exp: list[float]) -> None:
    flat = [v for p in pers for v in p.values()]
    total = sum(flat)
    ROWS.append((op, setting, statistics.mean(flat), max(flat), sum(exp) / total if total else 0.0))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--preparams-runs", type=int, default=10)
    ap.add_argument("--sign-runs", type=int, default=3)
    ap.add_argument("--online-runs", type=int, default=20)
    args = ap.parse_args()
    fixtures = PreParamsPool.loads((ROOT / "tests/fixtures/ecdsa/preparams.jsonl").read_text())
    pre = [fixtures.take() for _ in range(len(fixtures))]

    gen_times = []
    for _ in range(args.preparams_runs):
        t = time.perf_counter()
        generate_preparams(2048)
        gen_times.append(time.perf_counter() - t)

    for t_, n in ((2, 3), (3, 5)):
        ids = list(range(1, n + 1))
        setting = f"{t_}-of-{n}"
        protos = {
            i: KeygenProtocol(
                session_id=b"bench", party_id=i, party_ids=ids, threshold=t_, pool=PreParamsPool([pre[i - 1]])
            )
            for i in ids
        }
        outs, per, exp = drive(protos)
        record("keygen (filled pool)", setting, [per], [exp])
        shares = {i: KeyShare.from_bytes(o.result) for i, o in outs.items()}
        signers = ids[:t_]
        digest = hashlib.sha256(b"bench").digest()
        pers, exps = [], []
        for r in range(args.sign_runs):
            _, per, exp = drive(
                {
                    i: GG18SignProtocol(session_id=b"s%d" % r, key_share=shares[i], signers=signers, digest=digest)
                    for i in signers
                }
            )
            pers.append(per)
            exps.append(exp)
        record("GG18 sign", setting, pers, exps)
        pers, exps, presigs = [], [], []
        for r in range(max(args.sign_runs, 1)):
            o, per, exp = drive(
                {i: GG20PresignProtocol(session_id=b"p%d" % r, key_share=shares[i], signers=signers) for i in signers}
            )
            pers.append(per)
            exps.append(exp)
            presigs.append({i: x.result for i, x in o.items()})
        record("GG20 presign", setting, pers, exps)
        pers, exps = [], []
        for r in range(args.online_runs):
            ps = presigs[r % len(presigs)]
            protos = {
                i: GG20SignProtocol(
                    key_share=shares[i], presignature=ps[i], digest=digest, store=MemoryPresignatureStore()
                )
                for i in signers
            }
            _, per, exp = drive(protos)
            pers.append(per)
            exps.append(exp)
        record("GG20 online", setting, pers, exps)
        public = outs[1].public_result
        protos = {
            i: ReshareProtocol(
                session_id=b"r", party_id=i, old_public=public, old_signers=signers, new_party_ids=ids,
                new_threshold=t_, key_share=shares.get(i), preparams=pre[5 + i - 1] if n <= 5 else None,
            )
            for i in ids
        }  # fmt: skip
        _, per, exp = drive(protos)
        record(f"reshare (refresh, {t_} dealers)", setting, [per], [exp])

    if gen_times:
        print(f"\nPre-parameter generation (2048-bit N and Ñ), {len(gen_times)} runs: "
              f"mean {statistics.mean(gen_times):.1f} s, stdev {statistics.pstdev(gen_times):.1f} s, "
              f"min {min(gen_times):.1f} s, max {max(gen_times):.1f} s\n")  # fmt: skip
    print("| operation | setting | per-party mean (s) | per-party max (s) | modexp share |")
    print("| --- | --- | ---: | ---: | ---: |")
    for op, setting, mean, mx, share in ROWS:
        print(f"| {op} | {setting} | {mean:.4f} | {mx:.4f} | {share:.0%} |")


if __name__ == "__main__":
    main()
