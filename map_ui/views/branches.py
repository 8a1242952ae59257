"""Party building's pages: branches."""

urlpatterns: list = []
