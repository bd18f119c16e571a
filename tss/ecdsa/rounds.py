"""Plumbing shared by the ECDSA round protocols: payloads, inbound checks, ssid, commitments, echo.

* Payloads are canonical JSON (sorted keys, no spaces) of hex strings, size-capped before parsing (H7).
* `collect` enforces one message per expected sender and kind, addressed to us; anything missing,
  duplicated or unexpected aborts naming the sender (SECURITY.md S3, I2: the sender is the
  authenticated `RoundMessage.sender`, never a field inside the payload).
* `derive_ssid` hashes the orchestration's session id, the protocol context and every party's 16-byte
  contribution (S1: no single party picks it).
* `commit` / `open_commitment`: H(tag ‖ ssid ‖ pid ‖ value ‖ 32 random bytes), opened only with the
  committer's own pid, compared with `hmac.compare_digest` (C1, H4).
* `echo_digest`: hash of every broadcast of a round; each party repeats it in its next broadcast and
  all must agree (C5).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

from tss.ecdsa.curve import Point, decode_point, encode_point
from tss.errors import EncodingError, InvalidInputError, ProtocolError
from tss.messages import BROADCAST, RoundMessage
from tss.rng import resolve_rng
from tss.zk.transcript import Transcript

__all__ = [
    "CONTRIBUTION_BYTES",
    "MAX_PAYLOAD",
    "collect",
    "commit",
    "derive_ssid",
    "dump",
    "echo_digest",
    "load",
    "open_commitment",
    "pt",
    "pt_hex",
]

CONTRIBUTION_BYTES = 16
"""Per-party session-id contribution (cb-mpc; SECURITY.md "Numbers to use")."""
COMMIT_RAND_BYTES = 32
MAX_PAYLOAD = 4 * 1024 * 1024
"""Largest accepted payload (keygen round 2 with Π^mod and Π^prm is ~0.5 MiB at 2048 bits)."""


def dump(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def load(data: bytes) -> Any:
    if len(data) > MAX_PAYLOAD:
        raise EncodingError("payload too large")
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise EncodingError("payload is not JSON") from exc


def pt_hex(p: Point) -> str:
    return encode_point(p).hex()


def pt(obj: Any) -> Point:
    """Decode a compressed point from hex (I3): exactly 66 hex chars, on the curve."""
    if not isinstance(obj, str) or len(obj) != 66:
        raise EncodingError("malformed point")
    try:
        raw = bytes.fromhex(obj)
    except ValueError as exc:
        raise EncodingError("malformed point") from exc
    return decode_point(raw)


def collect(
    inbound: Sequence[RoundMessage], *, me: int, round_no: int, kind: str, senders: Iterable[int], broadcast: bool
) -> dict[int, Any]:
    """Pick the messages of `kind` and decode them; exactly one per expected sender.

    Messages of other kinds are ignored here (a round may carry a broadcast and a p2p kind).
    """
    expected = set(senders) - {me}
    out: dict[int, Any] = {}
    for msg in inbound:
        if msg.kind != kind:
            continue
        if msg.sender not in expected:
            raise ProtocolError("unexpected_sender", (msg.sender,) if msg.sender != me else ())
        if msg.round != round_no or msg.is_broadcast != broadcast or (not broadcast and msg.recipient != me):
            raise ProtocolError("misrouted_message", (msg.sender,))
        if msg.sender in out:
            raise ProtocolError("duplicate_message", (msg.sender,))
        try:
            obj = load(msg.payload)
        except EncodingError:
            raise ProtocolError("malformed_payload", (msg.sender,)) from None
        if not isinstance(obj, dict):
            raise ProtocolError("malformed_payload", (msg.sender,))
        out[msg.sender] = obj
    missing = expected - set(out)
    if missing:
        raise ProtocolError("missing_message", missing)
    return out


def bcast(sender: int, round_no: int, kind: str, obj: Any) -> RoundMessage:
    return RoundMessage(sender, BROADCAST, round_no, kind, dump(obj))


def p2p(sender: int, recipient: int, round_no: int, kind: str, obj: Any) -> RoundMessage:
    return RoundMessage(sender, recipient, round_no, kind, dump(obj))


def derive_ssid(tag: str, session_id: bytes, context: dict[str, Any], contributions: dict[int, bytes]) -> bytes:
    """ssid = H(tag, session id, protocol context, every (pid, contribution)) (S1)."""
    tr = Transcript("ssid/" + tag).bytes("session", session_id).bytes("context", dump(context))
    for pid in sorted(contributions):
        tr.int("pid", pid).bytes("contribution", contributions[pid])
    return hashlib.sha256(tr.encoded()).digest()


def contribution(obj: dict[str, Any], sender: int) -> bytes:
    try:
        raw = bytes.fromhex(obj["contrib"])
    except (KeyError, TypeError, ValueError):
        raise ProtocolError("malformed_payload", (sender,)) from None
    if len(raw) != CONTRIBUTION_BYTES:
        raise ProtocolError("malformed_payload", (sender,))
    return raw


def commit(tag: str, ssid: bytes, pid: int, value: bytes, rand: bytes) -> bytes:
    tr = Transcript("commit/" + tag).bytes("ssid", ssid).int("pid", pid).bytes("value", value)
    return hashlib.sha256(tr.bytes("rand", rand).encoded()).digest()


def open_commitment(tag: str, ssid: bytes, pid: int, value: bytes, rand_hex: Any, com: bytes) -> bool:
    try:
        rand = bytes.fromhex(rand_hex)
    except (TypeError, ValueError):
        return False
    if len(rand) != COMMIT_RAND_BYTES:
        return False
    return hmac.compare_digest(commit(tag, ssid, pid, value, rand), com)


def echo_digest(messages: dict[int, bytes], prehashed: dict[int, bytes] | None = None) -> str:
    """Hash of one round's broadcasts, every party's included (C5).

    Each payload enters as its SHA-256, so a party can keep just the hash of its own (possibly large)
    broadcast in its state and pass it in `prehashed`.
    """
    hashes = {pid: hashlib.sha256(p).digest() for pid, p in messages.items()} | (prehashed or {})
    tr = Transcript("echo")
    for pid in sorted(hashes):
        tr.int("pid", pid).bytes("payload_hash", hashes[pid])
    return hashlib.sha256(tr.encoded()).hexdigest()


def payload_hash(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


def check_echo(own: str, received: dict[int, Any]) -> None:
    """All parties must report the same broadcast digest; on mismatch abort.

    The equivocating party cannot be told apart from a party that lies about its echo without the
    signed copies the participant layer keeps (S3), so no culprit is named here; `detail` lists the
    parties whose view differs.
    """
    # An echo that is not a digest at all is a malformed message, attributable to its sender; only a
    # well-formed digest that differs is a view disagreement. (`hmac.compare_digest` raises TypeError
    # on non-ASCII text, so the shape is checked first: found by tests/fuzz.)
    malformed = sorted(pid for pid, obj in received.items() if not _is_digest(obj.get("echo")))
    if malformed:
        raise ProtocolError("malformed_payload", malformed, detail="echo is not a SHA-256 hex digest")
    differ = [pid for pid, obj in received.items() if not hmac.compare_digest(obj["echo"], own)]
    if differ:
        raise ProtocolError("broadcast_inconsistent", (), detail=f"views differ: {sorted(differ)}")


def _is_digest(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)


def payload_bytes(inbound: Sequence[RoundMessage], kind: str) -> dict[int, bytes]:
    """Raw payloads of one (already `collect`-validated) broadcast kind, for `echo_digest`."""
    return {m.sender: m.payload for m in inbound if m.kind == kind}


class RoundDriver:
    """Shared `run_round` for the ECDSA adapters.

    The state bytes carry a hash of the adapter's constructor context (protocol, session, parties,
    key, digest, ...) and the last completed round. A state from another session or protocol, or a
    round out of order, is refused before any work (the orchestration rebuilds the adapter each
    round, so this catches a mismatched rebuild).
    """

    name: str
    total_rounds: int
    context: dict[str, Any]
    me: int

    def steps(self) -> dict[int, Any]:
        raise NotImplementedError

    def _ctx_hash(self) -> str:
        session = getattr(self, "session_id", b"").hex()
        obj = {"ctx": self.context, "me": self.me, "name": self.name, "session": session}
        return hashlib.sha256(dump(obj)).hexdigest()

    def initial_state(self) -> bytes:
        return dump({"round": 0, "ctx": self._ctx_hash()})

    def run_round(self, round_no: int, state: bytes, inbound: Sequence[RoundMessage], rng: Any = None) -> Any:

        rng = resolve_rng(rng)
        st = load(state)
        ctx = self._ctx_hash()
        if not isinstance(st, dict) or st.get("ctx") != ctx:
            raise InvalidInputError("state belongs to another session or protocol")
        if st.get("round") != round_no - 1:
            raise InvalidInputError("round out of order")
        step = self.steps().get(round_no)
        if step is None:
            raise InvalidInputError("no such round")
        out = step(st, inbound, rng)
        new = load(out.state)
        new["ctx"] = ctx
        return replace(out, state=dump(new))
