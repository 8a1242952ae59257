"""No data reaches HTML unescaped: a crude linter over the page scripts and the templates.

The linter reads JavaScript with regular expressions and bracket counting, not a parser, so it is a tripwire,
not a proof: it knows the calls that parse a string as HTML (innerHTML and its kin; Leaflet's bindPopup,
bindTooltip, setContent, divIcon's `html`, the layers control's labels) and insists that a string built
in place for them passes every value through Gridline.escapeHtml (map_ui/static/map_ui/common.js). An
argument that is a call or an arrow function is taken to build DOM nodes (popup(...), el(...), textNode(...)),
a bare name only when the file binds it to such a call. The browser test (test_escaping_browser.py) checks
the pages themselves with hostile data.
"""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "map_ui" / "static" / "map_ui"
SCRIPTS = sorted(p for p in STATIC.rglob("*.js") if "vendor" not in p.relative_to(STATIC).parts)
APPS = ("grid", "layers", "map_ui", "vision", "project", "engagement")

# Writes that always parse markup: none of the page scripts needs them.
FORBIDDEN = re.compile(
    r"\.(?:innerHTML|outerHTML)\s*\+?=(?!=)|\binsertAdjacentHTML\s*\(|\bdocument\.write(?:ln)?\s*\(|\.html\s*\("
)
# Leaflet calls that take HTML text (or a node), and which of their arguments.
SINKS = {
    r"\.(?:bindPopup|bindTooltip|setContent|setPopupContent|setTooltipContent)\s*\(": 0,
    r"\.(?:addOverlay|addBaseLayer)\s*\(": 1,
}
HTML_OPTION = re.compile(r"\bhtml\s*:\s*")  # L.divIcon({html: ...})
ESCAPED = re.compile(r"^(?:window\.)?(?:Gridline\.)?escapeHtml\s*\(")
NODE_BUILDERS = r"(?:el|textNode|Gridline\.textNode|document\.createElement|L\.DomUtil\.create|popup|\w+Popup)"
CLOSERS = {"(": ")", "[": "]", "{": "}"}


def _skip_string(text: str, i: int) -> int:
    """The index just past the string literal (or template literal) that starts at text[i]."""
    quote = text[i]
    i += 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == quote:
            return i + 1
        i += 1
    return i


def _expression(text: str, start: int) -> tuple[str, int]:
    """The expression from `start` to the first top-level `,` or the bracket that closes its call, and its end."""
    depth, i = 0, start
    while i < len(text):
        c = text[i]
        if c in "'\"`":
            i = _skip_string(text, i)
            continue
        if c in CLOSERS:
            depth += 1
        elif c in ")]}":
            if depth == 0:
                break
            depth -= 1
        elif c == "," and depth == 0:
            break
        i += 1
    return text[start:i].strip(), i


def _arguments(text: str, start: int) -> list[str]:
    """The top-level arguments of the call whose `(` ends just before `start`."""
    args, i = [], start
    while i < len(text):
        arg, i = _expression(text, i)
        args.append(arg)
        if i >= len(text) or text[i] != ",":
            break
        i += 1
    return args


def _top_level_pieces(expr: str) -> list[str]:
    """`expr` split at its top-level `+` operators."""
    pieces, depth, i, last = [], 0, 0, 0
    while i < len(expr):
        c = expr[i]
        if c in "'\"`":
            i = _skip_string(expr, i)
            continue
        if c in CLOSERS:
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif c == "+" and depth == 0:
            pieces.append(expr[last:i].strip())
            last = i + 1
        i += 1
    pieces.append(expr[last:].strip())
    return pieces


def _is_literal(piece: str) -> bool:
    if len(piece) >= 2 and piece[0] in "'\"" and piece[-1] == piece[0]:
        return True
    return len(piece) >= 2 and piece[0] == piece[-1] == "`" and "${" not in piece


def _template_escaped(piece: str) -> bool:
    """A template literal all of whose ${...} go through escapeHtml."""
    if not (len(piece) >= 2 and piece[0] == piece[-1] == "`"):
        return False
    return all(ESCAPED.match(inner.strip()) for inner in re.findall(r"\$\{(.*?)\}", piece[1:-1], re.S))


def _unsafe(expr: str, source: str) -> bool:
    """Whether `expr`, given to a call that parses strings as HTML, may carry unescaped text."""
    pieces = _top_level_pieces(expr)
    if len(pieces) == 1:
        piece = pieces[0]
        if _is_literal(piece) or _template_escaped(piece) or ESCAPED.match(piece):
            return False
        if "=>" in piece.split("(", 1)[0] or piece.startswith(("function", "(")) and "=>" in piece:
            return False  # a function that Leaflet calls for the content: reviewed to return nodes
        if re.fullmatch(r"[\w.]+\s*\(.*\)", piece, re.S):
            return False  # a call: taken to build nodes
        if re.fullmatch(r"\w+", piece):
            return not re.search(rf"\b(?:const|let|var)\s+{piece}\s*=\s*{NODE_BUILDERS}\s*\(", source)
        return True
    return not all(_is_literal(p) or _template_escaped(p) or ESCAPED.match(p) for p in pieces)


def findings(source: str) -> list[str]:
    """What the linter objects to in one script's source, as the offending snippets."""
    found = [source[m.start() : m.end() + 40].strip() for m in FORBIDDEN.finditer(source)]
    for pattern, position in SINKS.items():
        for match in re.finditer(pattern, source):
            args = _arguments(source, match.end())
            if len(args) > position and _unsafe(args[position], source):
                found.append(source[match.start() : match.end()] + args[position])
    for match in HTML_OPTION.finditer(source):
        value, _ = _expression(source, match.end())
        if _unsafe(value, source):
            found.append("html: " + value)
    return found


@pytest.mark.parametrize(
    "snippet",
    [
        "marker.bindTooltip(name + ' · ' + line, {permanent: true});",
        "L.divIcon({html: '<span>' + n + '</span>', className: 'x'});",
        "layer.bindPopup(p.name);",
        "layer.bindPopup(`<b>${p.name}</b>`);",
        "list.innerHTML = rows.join('');",
        "node.insertAdjacentHTML('beforeend', note);",
        "control.addOverlay(group, '<span>' + title + '</span>');",
        "L.popup().setContent('<h3>' + escapeHtml(p.name) + '</h3>' + p.note).openOn(map);",
    ],
)
def test_the_linter_flags_strings_built_without_the_escaping_helper(snippet):
    assert findings(snippet) != []


@pytest.mark.parametrize(
    "snippet",
    [
        "marker.bindTooltip(textNode('span', name + ' · ' + line), {permanent: true});",
        "L.divIcon({html: '<span>' + escapeHtml(n) + '</span>', className: 'x'});",
        "layer.bindPopup(() => popup(p.name, rows));",
        "layer.bindPopup(`<b>${escapeHtml(p.name)}</b>`);",
        "const number = el('span', null, text);\nL.divIcon({html: number});",
        "control.addOverlay(group, '<span class=\"s\"></span>' + Gridline.escapeHtml(title));",
        "L.divIcon({className: 'gl-pin', html: '<span></span>', iconSize: [44, 44]});",
    ],
)
def test_the_linter_passes_escaped_strings_and_nodes(snippet):
    assert findings(snippet) == []


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: str(p.relative_to(STATIC)))
def test_page_scripts_pass_data_to_html_only_escaped(script):
    assert findings(script.read_text(encoding="utf-8")) == []


BLOCK = re.compile(r"\{% block (\w+) %\}((?:(?!\{% block ).)*?)\{% endblock %\}", re.S)


def _as_one_text(template: Path) -> str:
    """The template with the one it extends filled in by its blocks, innermost first: the page's text in order."""
    text = template.read_text(encoding="utf-8")
    parent = re.search(r'\{% extends "([^"]+)" %\}', text)
    if not parent:
        return text
    own = dict(BLOCK.findall(text))
    page = (template.parents[1] / parent.group(1)).read_text(encoding="utf-8")
    while BLOCK.search(page):
        page = BLOCK.sub(lambda m: own.get(m.group(1), m.group(2)), page)
    return page


def test_page_scripts_load_the_escaping_helper_first():
    templates = sorted((ROOT / "map_ui" / "templates" / "map_ui").glob("*.html"))
    pages = [t for t in templates if "<script src=" in _as_one_text(t)]
    assert pages  # the console, the map, the phone page and the finder
    for template in pages:
        text = _as_one_text(template)
        scripts = re.findall(r"static '(map_ui/[\w.]+\.js)'", text)
        assert scripts and scripts[0] == "map_ui/common.js", template.name


def test_templates_never_switch_autoescaping_off():
    templates = [p for app in APPS for p in (ROOT / app).glob("**/templates/**/*.html")]
    assert templates
    offending = [
        f"{p.relative_to(ROOT)}: {line.strip()}"
        for p in templates
        for line in p.read_text(encoding="utf-8").splitlines()
        if re.search(r"\|\s*safe\b|\{%\s*autoescape\s+off|\|\s*safeseq\b", line)
    ]
    assert offending == []


def test_python_marks_nothing_safe_and_formats_html_only_through_format_html_arguments():
    sources = [p for app in APPS for p in (ROOT / app).glob("**/*.py") if "migrations" not in p.parts]
    offending = []
    for path in sources:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            # mark_safe trusts its argument; format_html escapes only its arguments, not a format string
            # that was already filled in (an f-string, % or .format inside it)
            if re.search(r"\bmark_safe\s*\(|\bSafeString\s*\(", line) or re.search(
                r"\bformat_html\s*\(\s*(?:f['\"]|['\"][^'\"]*['\"]\s*(?:%|\.format\())", line
            ):
                offending.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offending == []
