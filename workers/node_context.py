"""Everything a participant process opens at start: key wrapping, keystores, identity."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from activities.authorisation import IntentGate
from activities.ecdsa_node import PREPARAMS_FILE, import_preparams
from activities.frost_protocols import FROST_SUITES
from activities.node_services import NodeServices
from mpc.identity import NodeIdentity, NodePublic
from mpc.intent_keys import trusted_from
from mpc.keystore import (
    CachingKeyWrapper,
    KeyWrapper,
    LocalKeyWrapper,
    SecretStateStore,
    ShareStore,
    VaultTransitWrapper,
)
from mpc.protocols import KEY_PROTOCOLS
from mpc.settings import Settings, SettingsError
from workers.registry import participant_activity_list

log = logging.getLogger("mpc.worker.participant")


def build_wrapper(settings: Settings, observe_vault: Callable[[str, float, str], None] | None = None) -> KeyWrapper:
    """Vault transit when VAULT_ADDR is set (the default everywhere); the local KEK only as a fallback.
    `observe_vault` times every Vault call (the participant's metrics)."""
    wrapper: KeyWrapper
    if settings.vault_addr:
        wrapper = VaultTransitWrapper(settings.vault_addr, settings.vault_token.get_secret_value(),
                                      settings.transit_key_name, mount=settings.vault_transit_mount,
                                      observe=observe_vault)
    else:
        kek = settings.key_share_encryption_key.get_secret_value()
        if not kek:
            raise SettingsError("VAULT_ADDR: required (or KEY_SHARE_ENCRYPTION_KEY as a fallback) to seal shares")
        wrapper = LocalKeyWrapper(bytes.fromhex(kek))
    if settings.data_key_cache_seconds > 0:  # DATA_KEY_CACHE_SECONDS: what it costs is in key_cache.py
        return CachingKeyWrapper(wrapper, settings.data_key_cache_seconds)
    return wrapper


@dataclass
class NodeContext:
    settings: Settings
    services: NodeServices

    @classmethod
    def open(cls, settings: Settings, *,
             observe_vault: Callable[[str, float, str], None] | None = None) -> NodeContext:
        return cls.open_at(settings.node_id, Path(settings.key_share_storage_path),
                           build_wrapper(settings, observe_vault), settings=settings)

    @classmethod
    def open_at(cls, node_id: str, root: Path, wrapper: KeyWrapper, *, settings: Settings) -> NodeContext:
        shares = ShareStore(root / "keys", wrapper, node_id)
        state = SecretStateStore(root / "state", wrapper, node_id)
        identity = NodeIdentity.load_or_create(state, node_id)
        import_preparams(state, root / PREPARAMS_FILE)  # seal a dropped-in pre-parameter pool, delete the file
        gate = IntentGate(trusted_from(settings), state)
        return cls(settings, NodeServices(node_id, identity, shares, state, gate))

    def identity_public(self) -> NodePublic:
        return self.services.identity.public()

    def sign(self, message: bytes) -> bytes:
        return self.services.identity.sign(message)

    def capabilities(self) -> dict[str, Any]:
        return {"protocols": list(KEY_PROTOCOLS), "curves": list(FROST_SUITES)}

    def activities(self) -> list[Any]:
        return participant_activity_list(self.services)
