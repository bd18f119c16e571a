"""FROST per-party compute benchmark; prints a markdown table.

Run: .venv/bin/python bench/bench_frost.py [--reps N]

Times are per party (mean over parties, median over repetitions), in milliseconds, for the pure
`tss` computation only (no network, no storage, no envelope crypto):
DKG / refresh / reshare: sum of one party's three rounds; reshare keeps t and n with t dealers.
preprocess: one nonce pair + commitments (batch of 20, divided). sign: one signer's round two.
aggregate: the coordinator's aggregate() incl. the final signature check; agg+shares adds
verify_shares=True (every share checked).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tss.frost import (
    FrostDkg,
    FrostRefresh,
    FrostReshare,
    KeyShare,
    aggregate,
    commit,
    get_ciphersuite,
    preprocess,
    sign,
)
from tss.messages import BROADCAST

CONFIGS = [(2, 3), (3, 5), (10, 15)]
SUITES = ["secp256k1", "ed25519", "secp256k1-tr"]


def run_timed(proto, states: dict[int, bytes]) -> tuple[dict, float]:
    """Run all rounds; return (outputs, mean per-party seconds)."""
    parties = sorted(states)
    spent = dict.fromkeys(parties, 0.0)
    inbox: dict[int, list] = {p: [] for p in parties}
    outs = {}
    for r in range(1, proto.total_rounds + 1):
        for p in parties:
            t0 = time.perf_counter()
            outs[p] = proto.run_round(r, states[p], inbox[p])
            spent[p] += time.perf_counter() - t0
        inbox = {p: [] for p in parties}
        for p in parties:
            states[p] = outs[p].state
            for m in outs[p].outbound:
                for q in [x for x in parties if x != p] if m.recipient == BROADCAST else [m.recipient]:
                    inbox[q].append(m)
    return outs, statistics.mean(spent.values())


def bench(suite_name: str, t: int, n: int, reps: int) -> dict[str, float]:
    suite = get_ciphersuite(suite_name)
    ids = list(range(1, n + 1))
    res: dict[str, list[float]] = {k: [] for k in ("dkg", "refresh", "reshare", "pre", "sign", "agg", "aggv")}
    for rep in range(reps):
        ssid = f"bench-{rep}".encode()
        states = {
            i: FrostDkg.initial_state(suite=suite_name, ssid=ssid, identifier=i, participants=ids, threshold=t)
            for i in ids
        }
        outs, dt = run_timed(FrostDkg(), states)
        res["dkg"].append(dt)
        shares = {i: KeyShare.from_bytes(o.result) for i, o in outs.items()}
        public = shares[1].public

        states = {i: FrostRefresh.initial_state(ssid=ssid + b"r", key_share=s) for i, s in shares.items()}
        _, dt = run_timed(FrostRefresh(), states)
        res["refresh"].append(dt)

        dealers = ids[:t]
        states = {
            i: FrostReshare.initial_state(
                ssid=ssid + b"s",
                identifier=i,
                old_public=public,
                dealers=dealers,
                new_participants=ids,
                new_threshold=t,
                key_share=shares[i] if i in dealers else None,
            )
            for i in ids
        }
        _, dt = run_timed(FrostReshare(), states)
        res["reshare"].append(dt)

        t0 = time.perf_counter()
        preprocess(suite, shares[1], 20)
        res["pre"].append((time.perf_counter() - t0) / 20)

        signers = ids[:t]
        msg = b"\x42" * 32
        pairs = {i: commit(suite, shares[i]) for i in signers}
        comms = [pairs[i][1] for i in signers]
        sig_shares = []
        t0 = time.perf_counter()
        for i in signers:
            sig_shares.append(sign(suite, shares[i], pairs[i][0], msg, comms))
        res["sign"].append((time.perf_counter() - t0) / t)
        t0 = time.perf_counter()
        aggregate(suite, public, msg, comms, sig_shares)
        res["agg"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        aggregate(suite, public, msg, comms, sig_shares, verify_shares=True)
        res["aggv"].append(time.perf_counter() - t0)
    return {k: statistics.median(v) * 1000 for k, v in res.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    cols = ["suite", "t-of-n", "DKG", "refresh", "reshare", "preprocess / nonce", "sign (round 2)", "aggregate"]
    print("| " + " | ".join([*cols, "agg + verify shares"]) + " |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for suite_name in SUITES:
        for t, n in CONFIGS:
            r = bench(suite_name, t, n, args.reps)
            print(
                f"| {suite_name} | {t}-of-{n} | {r['dkg']:.2f} | {r['refresh']:.2f} | {r['reshare']:.2f} | "
                f"{r['pre']:.3f} | {r['sign']:.3f} | {r['agg']:.3f} | {r['aggv']:.3f} |"
            )
    print("\nAll times in ms per party (median of repetitions); Python", sys.version.split()[0])


if __name__ == "__main__":
    main()
