from django.urls import path

from layers.api import imports

urlpatterns = [
    path("imports/", imports.ImportsApi.as_view(), name="imports"),
    path("imports/<int:pk>/", imports.ImportJobApi.as_view(), name="import-job"),
]
