"""The camera layer of the registry (group "things"), with the latest counts in its popup.

Imported from VisionConfig.ready(): layers may not import vision, so vision declares its layer itself. Every
attribute is a plain column, so tiles and exports carry them as they are (the counts as text, `latest_summary`).
"""

from django.utils.translation import gettext_lazy as _

from layers.registry import LAYERS, Layer, Sensitivity, attribute, register, scoped_queryset
from vision.models import Camera

CAMERAS_LAYER = "cameras"

if CAMERAS_LAYER not in LAYERS:
    register(
        Layer(
            name=CAMERAS_LAYER,
            group="things",
            title=_("cameras"),
            model=Camera,
            geometry_field="location",
            # internal: signed-in accounts, each within its grids (where a camera looks is not for everyone)
            base_queryset=scoped_queryset(Camera),
            sensitivity=Sensitivity.INTERNAL,
            style={"color": "#37474f", "radius": 5},
            attributes=(
                attribute("id", "ID"),
                attribute("code", _("code")),
                attribute("name", _("name")),
                attribute("latest_summary", _("latest counts")),
                attribute("latest_observed_at", _("latest observation")),
                attribute("last_frame_at", _("last frame")),
                attribute("last_error", _("last error")),
                attribute("failures", _("failures in a row")),
                attribute("enabled", _("enabled")),
                attribute("grid", _("grid"), "grid__code"),
            ),
            kind_lookup="source_kind",
            related=("grid",),
        )
    )
