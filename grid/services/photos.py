"""Writes of incident photos: store decoded photos (grid.photos) once per incident."""

import logging

from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction

from grid.models import Incident, IncidentEvent, IncidentPhoto, User
from grid.photos import DecodedPhoto

logger = logging.getLogger(__name__)


def incident_photos_attach(
    *, incident: Incident, photos: list[DecodedPhoto], uploader: User | None, event: IncidentEvent | None = None
) -> list[IncidentPhoto]:
    """Store each photo with its thumbnail, once per incident: a resent photo returns the row stored before.

    Safe inside the caller's transaction: each insert runs in a savepoint, so a concurrent resend of the same
    photo (the unique constraint) returns the other request's row instead of breaking the transaction. Files
    are written before the row; if the caller's transaction rolls back they stay behind, unreferenced (the
    storage has no transactions). A sweep may delete files under `incidents/` that no row names.
    """
    attached: list[IncidentPhoto] = []
    for photo in photos:
        existing = IncidentPhoto.objects.filter(incident=incident, sha256=photo.sha256).first()
        if existing is None:
            existing = _photo_store(incident=incident, photo=photo, uploader=uploader, event=event)
        attached.append(existing)
    return attached


def _photo_store(
    *, incident: Incident, photo: DecodedPhoto, uploader: User | None, event: IncidentEvent | None
) -> IncidentPhoto:
    row = IncidentPhoto(
        incident=incident,
        event=event,
        content_type=photo.content_type,
        width=photo.width,
        height=photo.height,
        sha256=photo.sha256,
        uploaded_by=uploader,
    )
    # Names come from the upload's SHA-256 (see the model's upload_to), never from the client's file name.
    name = f"{photo.sha256}{photo.extension}"
    row.image.save(name, ContentFile(photo.image), save=False)
    row.thumbnail.save(name, ContentFile(photo.thumbnail), save=False)
    try:
        with transaction.atomic():
            row.save(force_insert=True)
    except IntegrityError:
        # The same photo, attached meanwhile by a concurrent resend that committed first: keep its row.
        _files_delete(row)
        winner = IncidentPhoto.objects.filter(incident=incident, sha256=photo.sha256).first()
        if winner is None:
            raise
        return winner
    return row


def _files_delete(row: IncidentPhoto) -> None:
    for field in (row.image, row.thumbnail):
        try:
            field.delete(save=False)
        except OSError:
            logger.warning("could not delete %s", field.name, exc_info=True)
