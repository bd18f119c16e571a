"""Secrets scan (issue 15 part 5): every canary, in every encoding, searched in everything the platform wrote.

Sources: every file under the stack's data dir (process logs, the Temporal SQLite state file, PostgreSQL's
data directory with its WAL, Redis' directory, the nodes' sealed stores), the whole Temporal history of
every workflow (each event's raw protobuf bytes, and every payload decoded with the payload codec), every
Redis value (DUMP) and a `pg_dump` of the database. One Aho-Corasick pass per blob finds any of the
patterns, so the scan stays linear in the data.

Encodings of each secret integer v: minimal big- and little-endian bytes, hex of both (lower and upper),
decimal, and base64 / base64url of the big-endian bytes at each of the three alignments (the characters
that depend only on v's bytes, so a value inside a longer encoded blob is found too). Minimal forms are
substrings of their zero-padded forms, so padded encodings are covered.
"""

from __future__ import annotations

import asyncio
import base64
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import ahocorasick
from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.client import Client

from mpc.codec import ENCODING, EncryptionCodec
from mpc.devstack.postgres import pg_bin_dir
from tests.chaos.canaries import Canary

MIN_PATTERN = 16  # a 16-character (or byte) window of a random 256-bit value does not occur by chance


def _b64_cores(raw: bytes) -> list[bytes]:
    forms = []
    bits = 8 * len(raw)
    for offset in range(3):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            text = encode(bytes(offset) + raw)
            first = -(-8 * offset // 6)  # first 6-bit group lying wholly inside raw
            last = (8 * offset + bits) // 6  # groups before this one end inside raw
            forms.append(text[first:last])
    return forms


def encodings(value: int) -> list[tuple[str, bytes]]:
    """(encoding name, pattern) for one secret integer."""
    be = value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")
    le = be[::-1]
    forms = [("bytes-be", be), ("bytes-le", le), ("hex", be.hex().encode()), ("hex-le", le.hex().encode()),
             ("HEX", be.hex().upper().encode()), ("decimal", str(value).encode())]
    forms += [(f"base64/{i}", core) for i, core in enumerate(_b64_cores(be))]
    return [(name, pattern) for name, pattern in forms if len(pattern) >= MIN_PATTERN]


@dataclass
class Hit:
    source: str
    canary: str  # kind and where (never the value)
    encoding: str


@dataclass
class ScanResult:
    canaries: int
    patterns: int
    sources: dict[str, int] = field(default_factory=dict)  # source kind -> bytes scanned
    hits: list[Hit] = field(default_factory=list)


class Scanner:
    def __init__(self, canaries: list[Canary]) -> None:
        self.automaton = ahocorasick.Automaton()
        self.canaries = canaries
        count = 0
        for canary in canaries:
            for name, pattern in encodings(canary.value):
                # Latin-1 maps each byte to one character, so bytes are searched as text, 1:1.
                self.automaton.add_word(pattern.decode("latin-1"), (f"{canary.kind} {canary.where}", name))
                count += 1
        self.patterns = count
        if count:
            self.automaton.make_automaton()
        self.result = ScanResult(len(canaries), count)

    def scan(self, kind: str, source: str, data: bytes) -> None:
        self.result.sources[kind] = self.result.sources.get(kind, 0) + len(data)
        if not self.patterns or not data:
            return
        for _end, (canary, encoding) in self.automaton.iter(data.decode("latin-1")):
            self.result.hits.append(Hit(source, canary, encoding))

    def scan_files(self, root: Path) -> None:
        for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink()):
            try:
                data = path.read_bytes()
            except OSError:
                continue
            kind = "logs" if path.suffix == ".log" or "logs" in path.parts else "data files"
            self.scan(kind, str(path.relative_to(root)), data)


# ---- Temporal history ---------------------------------------------------------------------------------
def _payloads(message: Message) -> Iterator[Payload]:
    if isinstance(message, Payload):
        yield message
        return
    for descriptor, value in message.ListFields():
        if descriptor.message_type is None:
            continue
        if descriptor.message_type.GetOptions().map_entry:
            items = value.values()
        elif descriptor.is_repeated:
            items = value
        else:
            items = [value]
        for item in items:
            if isinstance(item, Message):
                yield from _payloads(item)


async def scan_temporal(scanner: Scanner, address: str, codec_key: str) -> int:
    """Every workflow's history: raw event bytes, and every payload decoded by the codec. Returns the count."""
    client = await Client.connect(address)  # no codec: what the server stores
    codec = EncryptionCodec.from_hex([codec_key])
    count = 0
    async for execution in client.list_workflows():
        history = await client.get_workflow_handle(execution.id, run_id=execution.run_id).fetch_history()
        raw = b"".join(event.SerializeToString() for event in history.events)
        scanner.scan("temporal history (raw)", f"temporal:{execution.id}", raw)
        encoded = [p for event in history.events for p in _payloads(event) if p.metadata.get("encoding") == ENCODING]
        decoded = await codec.decode(encoded) if encoded else []
        scanner.scan("temporal history (decoded)", f"temporal:{execution.id}",
                     b"\n".join(p.data for p in decoded))
        count += 1
    return count


def scan_temporal_sync(scanner: Scanner, address: str, codec_key: str) -> int:
    return asyncio.run(scan_temporal(scanner, address, codec_key))


# ---- Redis and PostgreSQL -----------------------------------------------------------------------------
def scan_redis(scanner: Scanner, port: int) -> int:
    import redis

    client = redis.Redis(host="127.0.0.1", port=port)
    count = 0
    for key in client.scan_iter(count=500):
        value = client.dump(key) or b""
        scanner.scan("redis", f"redis:{key!r}", key + b"\n" + value)
        count += 1
    client.close()
    return count


def scan_postgres(scanner: Scanner, port: int) -> None:
    dump = subprocess.run(
        [str(pg_bin_dir() / "pg_dump"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "mpc"],
        capture_output=True, check=True, timeout=300).stdout
    scanner.scan("database (pg_dump)", "pg_dump mpc", dump)
