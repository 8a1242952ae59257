from django.contrib.auth import views as auth_views
from django.urls import path
from django.views.generic import RedirectView

from map_ui.views import MapView

urlpatterns = [
    path("", RedirectView.as_view(url="/map/", permanent=False)),
    path("map/", MapView.as_view(), name="map"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(next_page="/map/"), name="logout"),
]
