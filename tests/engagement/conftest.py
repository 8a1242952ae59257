"""The party-building tests read the English messages: the Chinese catalogue is held to the source elsewhere
(tests/test_catalogues.py)."""

import pytest
from django.utils import translation


@pytest.fixture(autouse=True)
def english(settings):
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield
