"""Who wants to hear of new meeting check-ins: apps that stand on vision (party building turns a face check-in at
a meeting linked to an activity into an attendance) register a callable here from their AppConfig.ready(), so that
vision never imports them. Each is called after the check-ins commit, with their ids."""

from collections.abc import Callable
from functools import partial

from django.db import transaction

MEETING_CHECKIN_HOOKS: list[Callable[[list[int]], None]] = []


def on_meeting_checkins(hook: Callable[[list[int]], None]) -> None:
    if hook not in MEETING_CHECKIN_HOOKS:
        MEETING_CHECKIN_HOOKS.append(hook)


def meeting_checkins_recorded(ids: list[int]) -> None:
    for hook in MEETING_CHECKIN_HOOKS:
        transaction.on_commit(partial(hook, list(ids)))
