"""ECDSA key presentation: EIP-55 Ethereum addresses (checked against eth_account) and P2WPKH."""

from __future__ import annotations

import pytest
from coincurve import PrivateKey
from eth_account import Account

from mpc.chains import ChainError, ethereum_address, p2wpkh_address, present_ecdsa_key


@pytest.mark.parametrize("seed", range(1, 9))
def test_ethereum_address_matches_eth_account(seed: int) -> None:
    secret = (seed * 0x9E3779B97F4A7C15F39CC0605CEDC834).to_bytes(32, "big")
    public = PrivateKey(secret).public_key.format(compressed=True)
    expected = Account.from_key(secret).address
    assert ethereum_address(public) == expected
    # The uncompressed form gives the same address.
    assert ethereum_address(PrivateKey(secret).public_key.format(compressed=False)) == expected


def test_present_ecdsa_key() -> None:
    secret = bytes(31) + b"\x07"
    public = PrivateKey(secret).public_key.format(compressed=True)
    eth = present_ecdsa_key("ethereum", public.hex())
    assert eth == {"public_key": public.hex(), "verifying_key": public.hex(),
                   "address": Account.from_key(secret).address}
    btc = present_ecdsa_key("bitcoin", public.hex())
    assert btc["address"] == p2wpkh_address(public) and btc["address"].startswith("bc1q")
    with pytest.raises(ChainError):
        present_ecdsa_key("solana", public.hex())
