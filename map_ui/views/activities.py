"""Party building's pages: activities."""

urlpatterns: list = []
