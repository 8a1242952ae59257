from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from grid.health import healthz
from layers.api.urls import tile_urlpatterns

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("grid.api.urls")),
    path("api/v1/", include("layers.api.urls")),
    path("api/v1/", include("vision.api.urls")),
    path("api/v1/", include("vision.attendance.api.urls")),
    path("api/v1/engagement/", include("engagement.api.urls")),
    path("tiles/", include(tile_urlpatterns)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("map_ui.urls")),
]

handler400 = "grid.api.errors.bad_request"
handler403 = "grid.api.errors.permission_denied"
handler404 = "grid.api.errors.page_not_found"
handler500 = "grid.api.errors.server_error"
