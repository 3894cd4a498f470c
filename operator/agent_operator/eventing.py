"""Posting Kubernetes Events: best effort, from a bounded queue, never slowing a pass."""

from __future__ import annotations

import asyncio
import datetime
import logging
from typing import Any

from agent_api import models, timefmt

from agent_operator import api, scheduling

logger = logging.getLogger(__name__)

QUEUE_LIMIT = 20000
POSTERS = 4
SOURCE = "agent-operator"


def event_body(event: scheduling.Event, now: datetime.datetime) -> dict[str, Any]:
    """The core/v1 Event object for `event`, stamped `now` (whole seconds, as Events are)."""
    stamp = timefmt.format_time(now).split(".")[0] + "Z"
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"generateName": f"{event.name[:200]}.", "namespace": event.namespace},
        "involvedObject": {
            "apiVersion": models.API_VERSION,
            "kind": event.kind,
            "name": event.name,
            "namespace": event.namespace,
            "uid": event.uid,
        },
        "reason": event.reason,
        "message": event.message,
        "type": event.type,
        "count": 1,
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "source": {"component": SOURCE},
    }


class EventPoster:
    """Queues Events and posts them from a few background tasks."""

    def __init__(self, client: api.ClusterApi) -> None:
        self._client = client
        # The Events as the pass made them: their bodies, several times bigger, are built
        # as they are posted (a first pass over 10,000 tasks queues 10,000 Events).
        self._queue: asyncio.Queue[tuple[scheduling.Event, datetime.datetime]] = asyncio.Queue(
            maxsize=QUEUE_LIMIT
        )

    def post(self, events: list[scheduling.Event], now: datetime.datetime) -> None:
        """Queues the Events; when the queue is full the rest are dropped (logged)."""
        for event in events:
            if self._queue.full():
                logger.debug("Event queue full: dropping %s of %s", event.reason, event.name)
                return
            self._queue.put_nowait((event, now))

    async def run(self) -> None:
        """Posts queued Events until cancelled."""
        await asyncio.gather(*(self._post_forever() for _ in range(POSTERS)))

    async def _post_forever(self) -> None:
        while True:
            event, now = await self._queue.get()
            await self._post(event_body(event, now))

    async def _post(self, body: dict[str, Any]) -> None:
        try:
            await self._client.create_event(body)
        except Exception as error:
            logger.debug("could not record an Event: %s", error)
