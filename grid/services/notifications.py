"""Messages to accounts, about an incident or (for other apps' notices, such as a duty no-show) about none."""

from collections.abc import Iterable

from grid.models import Incident, Notification, User


def notify(*, recipients: Iterable[User | None], incident: Incident | None, kind: str, message: str) -> int:
    """Leave a message for each distinct recipient; returns how many were told."""
    seen = {u.pk: u for u in recipients if u is not None}
    Notification.objects.bulk_create(
        Notification(recipient=u, incident=incident, kind=kind, message=message[:300]) for u in seen.values()
    )
    return len(seen)
