from django.contrib.auth import views as auth_views
from django.urls import path
from django.views.generic import RedirectView

from map_ui.views import (
    ConsoleView,
    MapView,
    PhoneReportView,
    PhoneServiceWorkerView,
    StationFinderView,
    activities,
    branches,
    mall,
    me,
)

urlpatterns = [
    path("", RedirectView.as_view(url="/map/", permanent=False)),
    path("map/", MapView.as_view(), name="map"),
    path("console/", ConsoleView.as_view(), name="console"),
    path("m/report/", PhoneReportView.as_view(), name="phone-report"),
    path("m/report/sw.js", PhoneServiceWorkerView.as_view(), name="phone-sw"),
    path("stations/", StationFinderView.as_view(), name="station-finder"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(next_page="/map/"), name="logout"),
    # party building: each page module keeps its own routes
    *me.urlpatterns,
    *branches.urlpatterns,
    *activities.urlpatterns,
    *mall.urlpatterns,
]
