"""Which workflows and activities each worker serves (one place, so tests and workers agree)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.backup_coordinator import BackupSteps
from activities.backup_node import BackupNode
from activities.coordinator import CoordinatorActivities, SessionEndHook
from activities.frost_aggregate import FrostAggregation
from activities.frost_signing import FrostSigning
from activities.gg20_online import Gg20Online
from activities.key_archive import KeyArchive
from activities.key_state import KeyStates
from activities.node import NodeActivities
from activities.node_services import NodeServices
from activities.participant_rounds import ParticipantRounds
from activities.presign_pool import PresignPool
from activities.recover_node import RecoverNode
from activities.reshare_node import ReshareNode
from mpc.db import create_engine, session_factory
from mpc.settings import Settings, load_settings
from workflows.backup import BackupWorkflow
from workflows.key_state import KeyStateWorkflow
from workflows.keygen import KeygenWorkflow
from workflows.ping import PingNodeWorkflow
from workflows.pool import NoncePoolRefillWorkflow
from workflows.presign_pool import PresignPoolRefillWorkflow
from workflows.recover import RecoverWorkflow
from workflows.reshare import ReshareWorkflow
from workflows.reshare_catchup import ReshareCatchUpWorkflow
from workflows.scheduled_refresh import ScheduledRefreshWorkflow
from workflows.sign import SignWorkflow


def coordinator_workflows() -> list[type]:
    return [KeygenWorkflow, SignWorkflow, NoncePoolRefillWorkflow, PingNodeWorkflow, KeyStateWorkflow,
            ReshareWorkflow, ReshareCatchUpWorkflow, ScheduledRefreshWorkflow, BackupWorkflow, RecoverWorkflow,
            PresignPoolRefillWorkflow]


def coordinator_activity_list(sessions: async_sessionmaker[AsyncSession],
                              settings: Settings | None = None, *,
                              on_end: SessionEndHook | None = None) -> list[Callable[..., Any]]:
    """`on_end`: called where a session's row becomes final (the worker's session metrics)."""
    db = CoordinatorActivities(sessions, on_end)
    frost = FrostAggregation(sessions, on_end)
    backup = BackupSteps(sessions, settings or load_settings())
    presigs = PresignPool(sessions, on_end)
    return [db.update_session, db.record_key, db.finish_key, db.audit, db.store_commitments, db.claim_commitments,
            db.pool_levels, db.record_epoch, frost.aggregate_signature, frost.aggregate_batch, db.begin_frost_sign,
            frost.finish_sign, backup.begin, backup.dump_database, backup.write_files, backup.seal_manifest,
            backup.finish, backup.fail, presigs.store, presigs.claim, presigs.level, presigs.status, presigs.combine,
            presigs.begin_sign, presigs.finish_sign, presigs.begin_batch, presigs.finish_batch]


async def coordinator_activities(settings: Settings, on_end: SessionEndHook | None = None,
                                 ) -> tuple[list[Callable[..., Any]], Callable[[], Awaitable[None]]]:
    """Activities of the coordinator, and a closer for the database engine they share."""
    engine = create_engine(settings.database_url)
    return coordinator_activity_list(session_factory(engine), settings, on_end=on_end), engine.dispose


def participant_activity_list(services: NodeServices) -> list[Callable[..., Any]]:
    public = services.identity.public()
    node = NodeActivities(services.node_id, public.ed25519, public.x25519)
    rounds = ParticipantRounds(services)
    frost = FrostSigning(services)
    states = KeyStates(services)
    reshare = ReshareNode(services)
    archive = KeyArchive(services)
    backup = BackupNode(services)
    recover = RecoverNode(services)
    gg20 = Gg20Online(services)
    return [backup.collect_meta, backup.escrow_share, recover.import_share,
            node.ping, rounds.session_hello, rounds.protocol_round, frost.preprocess, frost.sign_share,
            frost.sign_batch, states.set_key_state, archive.archive_key, reshare.ack, reshare.test_commit,
            reshare.test_sign, reshare.activate, reshare.retire, gg20.sign, gg20.sign_online_batch]
