"""Request parsers that refuse text PostgreSQL cannot store: NUL characters and invalid UTF-8 (also lone
surrogates, which JSON's \\u escapes can spell), anywhere in the data, keys included. A field message
names the place, so the client learns which value to fix instead of getting a 500 from the database.
"""

from urllib.parse import unquote_plus

from django.http import QueryDict
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser

NUL_MESSAGE = _("Null characters are not allowed.")
ENCODING_MESSAGE = _("Text must be valid UTF-8.")


def text_problem(text: str):
    """Why a string cannot be stored, or None."""
    if "\x00" in text:
        return NUL_MESSAGE
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return ENCODING_MESSAGE
    return None


def _problem(value, path: str):
    """(field path, message) of the first unstorable string in parsed data, or None."""
    if isinstance(value, str):
        message = text_problem(value)
        return (path or "non_field_errors", message) if message else None
    if isinstance(value, dict):
        for key, item in value.items():
            key = str(key)
            if message := text_problem(key):
                return (path or "non_field_errors", message)
            if found := _problem(item, f"{path}.{key}" if path else key):
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if found := _problem(item, f"{path}.{index}" if path else str(index)):
                return found
    return None


def refuse_unstorable(data) -> None:
    if found := _problem(data, ""):
        field, message = found
        raise exceptions.ValidationError({field: [message]})


def query_dict_problem(query: QueryDict):
    for key, values in query.lists():
        if message := text_problem(key):
            return ("non_field_errors", message)
        for value in values:
            if message := text_problem(value):
                return (key, message)
    return None


def urlencoded_problem(raw: str):
    """(field, message) for a NUL or an invalid UTF-8 sequence in an application/x-www-form-urlencoded text."""
    for piece in raw.split("&"):
        if not piece:
            continue
        raw_name, _sep, raw_value = piece.partition("=")
        try:
            name = unquote_plus(raw_name, errors="strict")
        except UnicodeDecodeError:
            return ("non_field_errors", ENCODING_MESSAGE)
        if message := text_problem(name):
            return ("non_field_errors", message)
        try:
            value = unquote_plus(raw_value, errors="strict")
        except UnicodeDecodeError:
            return (name, ENCODING_MESSAGE)
        if message := text_problem(value):
            return (name, message)
    return None


class StrictJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        data = super().parse(stream, media_type, parser_context)
        refuse_unstorable(data)
        return data


class StrictFormParser(FormParser):
    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding") or "utf-8"
        raw = stream.read()
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            raise exceptions.ValidationError({"non_field_errors": [ENCODING_MESSAGE]}) from None
        if found := urlencoded_problem(text):
            raise exceptions.ValidationError({found[0]: [found[1]]})
        return QueryDict(raw, encoding=encoding)


class StrictMultiPartParser(MultiPartParser):
    """Multipart text fields are decoded by Django with replacement characters, so only NUL can reach here."""

    def parse(self, stream, media_type=None, parser_context=None):
        parsed = super().parse(stream, media_type, parser_context)
        if found := query_dict_problem(parsed.data):
            raise exceptions.ValidationError({found[0]: [found[1]]})
        for field, files in parsed.files.lists():
            for upload in files:
                if message := text_problem(upload.name or ""):
                    raise exceptions.ValidationError({field: [message]})
        return parsed
