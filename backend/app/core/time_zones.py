"""The IANA time zones a user may choose: one rule for the saved setting (PUT /settings/
`timezone`) and for the analytics' `tz` parameter, with one message."""

from __future__ import annotations

from functools import lru_cache
from zoneinfo import available_timezones

# Present in some system zone directories but not zones a user means (machine-dependent).
NOT_USER_TIME_ZONES = frozenset({"localtime", "posixrules", "Factory"})
EXAMPLE_TIME_ZONE = "Europe/Berlin"


@lru_cache
def user_time_zones() -> frozenset[str]:
    return frozenset(available_timezones()) - NOT_USER_TIME_ZONES


def time_zone_error(name: str) -> str | None:
    """None when `name` is a time zone a user may choose, else the message saying why not."""
    if name in user_time_zones():
        return None
    return f"{name!r} is not an IANA time zone such as {EXAMPLE_TIME_ZONE!r}"
