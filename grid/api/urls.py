from django.urls import path
from rest_framework.authtoken.views import obtain_auth_token

from grid.api import views

urlpatterns = [
    path("auth/token/", obtain_auth_token, name="auth-token"),
    path("stations/nearest/", views.StationNearestApi.as_view(), name="stations-nearest"),
    path("areas/locate/", views.AreaLocateApi.as_view(), name="areas-locate"),
    path("areas/", views.AreaListApi.as_view(), name="areas"),
    path("grids/", views.GridListApi.as_view(), name="grids"),
    path("incidents/categories/", views.CategoryListApi.as_view(), name="incident-categories"),
    path("incidents/", views.IncidentsApi.as_view(), name="incidents"),
]
