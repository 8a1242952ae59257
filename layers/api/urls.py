"""The layers app's URLs: its API (`urlpatterns`, included under api/v1/) and its vector tiles
(`tile_urlpatterns`, included under tiles/)."""

from django.urls import path

from layers.api import exports, imports, nearest, tiles, views

urlpatterns = [
    path("layers/", views.LayerListApi.as_view(), name="layers"),
    path("layers/gig_workers/profile/", views.GigWorkerProfileApi.as_view(), name="gig-worker-profile"),
    path("layers/people/<int:pk>/sensitive/", views.PersonSensitiveApi.as_view(), name="person-sensitive"),
    path("layers/organizations/nearest/", nearest.OrganizationNearestApi.as_view(), name="organizations-nearest"),
    path("layers/<slug:name>/stats/", views.LayerStatsApi.as_view(), name="layer-stats"),
    path("layers/<slug:name>/", views.LayerFeaturesApi.as_view(), name="layer-features"),
    path("audit/", views.AuditListApi.as_view(), name="audit"),
    path("exports/", exports.ExportsApi.as_view(), name="exports"),
    path("exports/<int:pk>/", exports.ExportJobApi.as_view(), name="export-job"),
    path("exports/<int:pk>/download/", exports.ExportDownloadApi.as_view(), name="export-download"),
    path("imports/", imports.ImportsApi.as_view(), name="imports"),
    path("imports/<int:pk>/", imports.ImportJobApi.as_view(), name="import-job"),
]

# <str:…> rather than <int:…>: a tile address that is not a number gets a 400 with field messages, not a bare 404.
tile_urlpatterns = [
    path("<str:layer>/<str:z>/<str:x>/<str:y>.mvt", tiles.TileApi.as_view(), name="tile"),
]
