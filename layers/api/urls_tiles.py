from django.urls import path

from layers.api import tiles

# <str:…> rather than <int:…>: a tile address that is not a number gets a 400 with field messages, not a bare 404.
urlpatterns = [
    path("<str:layer>/<str:z>/<str:x>/<str:y>.mvt", tiles.TileApi.as_view(), name="tile"),
]
