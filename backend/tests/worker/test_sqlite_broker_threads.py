"""The embedded default's SQLite broker channel is used from two threads at once: the consumer
polls for messages while the pool's result thread acknowledges finished tasks (Celery runs an
acknowledgement at once, in the caller's thread, when its loop has no hub)."""

from __future__ import annotations

import queue
import sqlite3
import threading
from pathlib import Path
from typing import Any

from kombu import Connection

from app.core.broker import SqliteTransport

MESSAGES = 200


def test_acknowledging_from_another_thread_while_the_consumer_polls(tmp_path: Path) -> None:
    broker_file = tmp_path / "broker.db"
    delivered: queue.Queue[Any] = queue.Queue()
    failures: list[BaseException] = []

    def acknowledge_each() -> None:
        for _ in range(MESSAGES):
            try:
                delivered.get(timeout=30).ack()
            except BaseException as exc:  # recorded: the assertion below names it
                failures.append(exc)

    with Connection(f"sqlite:///{broker_file}", transport=SqliteTransport) as connection:
        tasks = connection.SimpleQueue("tasks")
        for number in range(MESSAGES):
            tasks.put({"n": number})
        acknowledger = threading.Thread(target=acknowledge_each)
        acknowledger.start()
        received = []
        for _ in range(MESSAGES):
            message = tasks.get(timeout=10)
            received.append(message.payload["n"])
            delivered.put(message)
        acknowledger.join(timeout=60)
        tasks.close()

    assert failures == []
    assert sorted(received) == list(range(MESSAGES))
    with sqlite3.connect(broker_file) as db:  # an acknowledged message's row is deleted
        assert db.execute("SELECT count(*) FROM kombu_message").fetchone() == (0,)
