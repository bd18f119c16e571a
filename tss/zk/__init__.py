"""Zero-knowledge proofs for GG18/GG20 with Fiat-Shamir transcripts (SECURITY.md §2).

Π^mod (`tss.zk.mod`), Π^fac (`tss.zk.fac`), Π^prm both directions (`tss.zk.prm`), Schnorr PoKs
(`tss.zk.schnorr`), MtA range proofs (`tss.zk.mta`), parameter checks P3/P4 (`tss.zk.params`).
Import the submodules directly (they depend on `tss.ecdsa.curve`).
"""
