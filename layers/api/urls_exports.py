"""Export job URLs, namespaced "exports": include with path("api/v1/", include("layers.api.urls_exports"))."""

from django.urls import path

from layers.api import exports

app_name = "exports"

urlpatterns = [
    path("exports/", exports.ExportsApi.as_view(), name="exports"),
    path("exports/<int:pk>/", exports.ExportJobApi.as_view(), name="export-job"),
    path("exports/<int:pk>/download/", exports.ExportDownloadApi.as_view(), name="export-download"),
]
