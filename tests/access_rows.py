"""The rows of the access matrix (`tests/test_access_matrix.py`): one per URL and method, one answer per role."""

import json
import re
from dataclasses import dataclass

ROLES = ("anonymous", "resident", "volunteer", "worker", "dispatcher", "administrator", "auditor")


@dataclass(frozen=True)
class Row:
    method: str
    path: str
    expect: tuple[str, ...]  # one per role, in ROLES order
    body: dict | None = None
    lists: str | None = None  # the kind of object whose ids a 200 lists (see listed_ids)
    multipart: bool = False
    page: bool = False  # a page: a browser's session (and form posts), not a token

    @property
    def two_sided(self) -> bool:
        text = self.path + json.dumps(self.body or {}, ensure_ascii=False)
        return bool(re.search(r"\{(?!username|password|uuid|mine|accepted_a|lon_a|lat_a)\w+\}", text))


def row(method: str, path: str, answers: str, **options) -> Row:
    expect = tuple(answers.split())
    assert len(expect) == len(ROLES), path
    return Row(method, path, expect, **options)
