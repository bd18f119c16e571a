"""Threshold ECDSA on secp256k1: GG18 / GG20 keygen, signing, presigning and resharing."""
