"""RecoverWorkflow: a key recovered from escrow enters a new committee through the reshare's two phases.

The operator's offline command (`mpc recover --from-escrow`, mpc/backup/recovery.py) decrypted t escrowed
shares, dealt new shares of the same secret and sealed each to its new holder's identity key. Phase one
here is one step: every new holder imports its sealed share (activities/recover_node.py checks the recover
intent, the signed manifest, its roster entry and the share against the new public package) and stores it
*inactive* at epoch + 1. A GG18/GG20 key's dealt shares are only *staged* (plain Shamir shares, kept apart from
the key's shares, never signing): a second step, the `gg20-recover` session, reshares them among the new
committee (t' of them deal, tss.ecdsa.reshare), and every new holder stores a complete key share with fresh
Paillier and ring-Pedersen parameters, inactive at epoch + 1, as a reshare leaves it.
Phase two is the reshare's, unchanged (DESIGN.md "Reshare and refresh: two phases"): ACKs, a test signature
with the new shares, activation (the first new holder's is the commit point, the database follows), then every
old holder still reachable erases the old epoch; those that were offline when the recovery was asked for (lost
disks) are left to the catch-up workflow.
"""

from __future__ import annotations

import json

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from mpc.protocols import KEY_PROTOCOLS, SPECS, Activity, Family
    from workflows.driver import SessionFailedError, run_on_nodes
    from workflows.recover_types import IMPORT_STEPS, ImportShareInput, ImportShareResult, RecoverRequest
    from workflows.reshare import ReshareWorkflow, _nodes
    from workflows.types import ReshareRequest, ReshareResult, ReshareStep, SessionFailure


@workflow.defn(name="Recover")
class RecoverWorkflow(ReshareWorkflow):
    @workflow.run
    async def run(self, request: RecoverRequest) -> ReshareResult:  # type: ignore[override]
        # The narrower input type is what Temporal decodes the start payload into.
        return await super().run(request)

    def _deal_rounds(self, request: ReshareRequest) -> int:
        staged = KEY_PROTOCOLS[request.key_protocol].family == Family.ECDSA
        return IMPORT_STEPS + (SPECS[request.protocol].rounds if staged else 0)

    async def _deal(self, request: ReshareRequest) -> tuple[dict, str]:
        """Phase one: every new holder imports its sealed share; a GG18/GG20 key's staged shares are then
        reshared into key shares by the new committee (`request.protocol`, `request.dealers`)."""
        package, digest = await self._import(request)
        if KEY_PROTOCOLS[request.key_protocol].family != Family.ECDSA:
            return package, digest
        return await self._deal_rounds_of(request, first_round=IMPORT_STEPS + 1)

    async def _import(self, request: ReshareRequest) -> tuple[dict, str]:
        """Every new holder imports its sealed share; all must name one package and digest."""
        assert isinstance(request, RecoverRequest)

        def make(node: str) -> ImportShareInput:
            return ImportShareInput(
                session_id=request.session_id, key_id=request.key_id, epoch=request.epoch,
                new_parties=list(request.new_parties), new_threshold=request.new_threshold,
                backup_id=request.backup_id, manifest=request.manifest,
                manifest_signature=request.manifest_signature, sealed_share=request.sealed_shares.get(node, ""),
                intent=request.intent)

        results: dict[str, ImportShareResult] = await run_on_nodes(
            Activity.RECOVER_IMPORT.value, _nodes(request.new_parties), make, ImportShareResult, request.policy)
        await self._round(IMPORT_STEPS)
        agreed = {(json.dumps(r.package, sort_keys=True), r.ack_digest) for r in results.values()}
        if len(agreed) != 1:
            raise SessionFailedError(SessionFailure("result_mismatch", "the new holders imported different public "
                                                                      "packages"))
        first = next(iter(results.values()))
        return dict(first.package), first.ack_digest

    async def _erase(self, request: ReshareRequest, step: ReshareStep, total: int) -> list[str]:
        pending = await super()._erase(request, step, total)
        unreachable = request.unreachable_holders if isinstance(request, RecoverRequest) else []
        return [*pending, *sorted(set(unreachable) - set(pending))]
