"""Threshold ECDSA on secp256k1: GG18 / GG20 keygen, signing, presigning and resharing.

RoundProtocol adapters (all with ``initial_state()`` and ``run_round(round_no, state, inbound, rng)``):

* `KeygenProtocol` (``gg20/keygen``, 4 rounds) -> `KeyShare` bytes
* `GG18SignProtocol` (``gg18/sign``, 11 rounds) -> 65-byte signature r ‖ s ‖ v
* `GG20PresignProtocol` (``gg20/presign``, 7 rounds) -> `Presignature` bytes
* `GG20SignProtocol` (``gg20/sign``, 2 rounds: one message round + local combine) -> signature
* `ReshareProtocol` (``gg20/reshare``, 5 rounds) -> new `KeyShare` bytes for new members

Names are resolved lazily: `tss.zk` imports `tss.ecdsa.curve`, and an eager import here would
create an import cycle.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "KeygenProtocol": "tss.ecdsa.keygen",
    "KeyShare": "tss.ecdsa.keyshare",
    "GG18SignProtocol": "tss.ecdsa.gg18",
    "GG20PresignProtocol": "tss.ecdsa.gg20",
    "GG20SignProtocol": "tss.ecdsa.gg20",
    "MemoryPresignatureStore": "tss.ecdsa.gg20",
    "Presignature": "tss.ecdsa.gg20",
    "PresignatureStore": "tss.ecdsa.gg20",
    "ReshareProtocol": "tss.ecdsa.reshare",
    "EcdsaSignature": "tss.ecdsa.signature",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(name)
