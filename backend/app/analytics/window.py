"""The period an analytics request covers: [start, end) in UTC and the zone of its days."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from app.errors import Unprocessable
from app.models import User, utcnow
from app.time_zones import time_zone_error

DEFAULT_SPAN = timedelta(days=30)
MAX_SPAN = timedelta(days=366)
# Room for local days, week starts and the default span around any accepted instant.
EARLIEST = datetime(2, 1, 1, tzinfo=UTC)
LATEST = datetime(9998, 12, 31, tzinfo=UTC)


@dataclass(frozen=True)
class Window:
    """A validated period: [start, end) in UTC, the zone of its days, and `now`."""

    user_id: int
    start: datetime
    end: datetime
    zone: ZoneInfo
    now: datetime
    use_rollups: bool

    def period(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "timezone": self.zone.key}


OUT_OF_RANGE = "outside the supported range of dates (years 2 to 9998)"


def to_utc(moment: datetime, zone: ZoneInfo, name: str) -> datetime:
    """An instant from the query in UTC; a naive datetime is a wall-clock time in `zone`.
    Instants too close to the ends of the calendar to compute with are a 422."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    try:
        moment = moment.astimezone(UTC)
    except OverflowError as exc:
        raise Unprocessable(f"{name}: {OUT_OF_RANGE}") from exc
    if not EARLIEST <= moment <= LATEST:
        raise Unprocessable(f"{name}: {OUT_OF_RANGE}")
    return moment


def resolve_window(
    *,
    user: User,
    start: datetime | None = None,
    end: datetime | None = None,
    tz: str | None = None,
    now: datetime | None = None,
) -> Window:
    """Defaults (end = now, start = end - 30 days) and checks; bad input is a 422."""
    zone_name = tz if tz is not None else user.timezone
    # The zones PUT /settings/ accepts, with its message: "localtime" and the like are not.
    message = time_zone_error(zone_name)
    if message is not None:
        raise Unprocessable(
            f"tz: {message}",
            details=[{"loc": ["query", "tz"], "msg": message, "type": "time_zone"}],
        )
    zone = ZoneInfo(zone_name)
    now = now or utcnow()
    end_utc = to_utc(end, zone, "end") if end is not None else now
    start_utc = to_utc(start, zone, "start") if start is not None else end_utc - DEFAULT_SPAN
    if start_utc > end_utc:
        raise Unprocessable("start must not be after end")
    if end_utc - start_utc > MAX_SPAN:
        raise Unprocessable("the period must not span more than 366 days")
    return Window(
        user_id=user.id,
        start=start_utc,
        end=end_utc,
        zone=zone,
        now=now,
        use_rollups=zone.key == user.timezone,
    )
