"""The coordinator worker sets the backup Schedule at every start: a restart finds it there and updates it."""

from __future__ import annotations

from temporalio.client import Client

from mpc.devstack.temporal import TemporalDevServer
from workers.backup_schedule import BACKUP_SCHEDULE_ID, ensure_backup_schedule


async def test_a_restart_updates_the_existing_schedule_and_an_empty_one_deletes_it(
        temporal_server: TemporalDevServer) -> None:
    client = await Client.connect(temporal_server.address)
    try:
        await ensure_backup_schedule(client, "0 2 * * *")
        await ensure_backup_schedule(client, "0 3 * * *")  # a second start: found, updated, no exception
        described = await client.get_schedule_handle(BACKUP_SCHEDULE_ID).describe()
        (calendar,) = described.schedule.spec.calendars  # the server stores the cron as a calendar
        assert [(r.start, r.end) for r in calendar.hour] == [(3, 3)]
    finally:
        await ensure_backup_schedule(client, "")
    assert BACKUP_SCHEDULE_ID not in [s.id async for s in await client.list_schedules()]
