"""Party building's pages: mall."""

urlpatterns: list = []
