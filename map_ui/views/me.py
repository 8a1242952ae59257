"""Party building's pages: me."""

urlpatterns: list = []
