"""How a file's columns map onto the targets of a layer (layers.io.specs).

A mapping is {source column → target field}. Without one, a preset (the department feeds: transport,
postal, market regulation, commerce) gives it; without either, columns are matched by the usual Chinese
and English names (`ALIASES`). Values are then converted by layers.io.converters.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from layers.io.specs import IMPORTS
from layers.models import Organization, PersonCategory, WorkKind

# Column names as registers and department spreadsheets write them (and the target names themselves).
ALIASES: dict[str, tuple[str, ...]] = {
    "name": ("姓名", "名称", "企业名称", "单位名称", "组织名称", "场所名称", "设施名称"),
    "id_card": ("身份证号", "身份证号码", "公民身份号码", "证件号码"),
    "phone": ("手机号", "手机号码", "联系电话", "电话"),
    "gender": ("性别",),
    "birth_date": ("出生日期",),
    "household": ("户号", "户编号"),
    "address": ("地址", "住址", "居住地址", "现住址", "经营地址"),
    "lon": ("经度", "lng", "longitude", "x"),
    "lat": ("纬度", "latitude", "y"),
    "grid": ("网格", "网格编码", "网格编号"),
    "categories": ("人员类别", "类别", "标签"),
    "platform": ("平台", "所属平台"),
    "work_kind": ("从业类型", "职业类型"),
    # "employer" and "parent" are the names our own exports give these columns: a round trip needs no mapping.
    "employer_name": ("所属企业", "所属公司", "工作单位", "employer"),
    "employer_code": ("所属企业统一社会信用代码",),
    "branch_code": ("所属党支部代码", "党组织代码"),
    "mobile_member": ("流动党员",),
    "code": ("编码", "编号", "统一社会信用代码", "代码"),
    "building": ("楼栋", "楼号"),
    "unit": ("单元",),
    "room": ("房号", "门牌号"),
    "kind": ("类型", "种类"),
    "condition": ("状态", "设施状态"),
    "parent_code": ("上级组织代码", "上级代码", "parent"),
}


@dataclass(frozen=True)
class Preset:
    """A department's feed: its layer, its column names, and what every row of it is."""

    name: str
    title: str
    layer: str
    columns: dict[str, str]
    defaults: dict[str, object] = field(default_factory=dict)
    employer_kind: str = Organization.Kind.ENTERPRISE


def _gig_columns(company: str, code: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    return {
        "姓名": "name",
        "身份证号": "id_card",
        "手机号": "phone",
        "性别": "gender",
        "从业类型": "work_kind",
        "平台": "platform",
        company: "employer_name",
        code: "employer_code",
        "地址": "address",
        "经度": "lon",
        "纬度": "lat",
        **(extra or {}),
    }


def _company_columns(name: str) -> dict[str, str]:
    return {
        name: "name",
        "统一社会信用代码": "code",
        "地址": "address",
        "联系电话": "phone",
        "经度": "lon",
        "纬度": "lat",
    }


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            "transport",
            "交通运输：货车司机及货运企业",
            "people",
            _gig_columns("所属企业", "统一社会信用代码", {"居住地址": "address"}),
            {"categories": [PersonCategory.GIG_WORKER], "work_kind": WorkKind.TRUCK_DRIVER},
        ),
        Preset(
            "postal",
            "邮政管理：快递员及快递企业",
            "people",
            _gig_columns("所属企业", "统一社会信用代码", {"快递品牌": "platform"}),
            {"categories": [PersonCategory.GIG_WORKER], "work_kind": WorkKind.COURIER},
        ),
        Preset(
            "market",
            "市场监管：外卖骑手及平台企业",
            "people",
            _gig_columns(
                "所属平台企业",
                "平台企业统一社会信用代码",
                {"所属企业": "employer_name", "统一社会信用代码": "employer_code"},
            ),
            {"categories": [PersonCategory.GIG_WORKER], "work_kind": WorkKind.FOOD_DELIVERY},
            Organization.Kind.PLATFORM,
        ),
        Preset(
            "commerce",
            "商务：网络主播及电商平台",
            "people",
            _gig_columns(
                "所属平台企业",
                "平台企业统一社会信用代码",
                {"直播平台": "platform", "所属企业": "employer_name", "统一社会信用代码": "employer_code"},
            ),
            {"categories": [PersonCategory.GIG_WORKER], "work_kind": WorkKind.LIVE_STREAMER},
            Organization.Kind.PLATFORM,
        ),
        Preset(
            "transport_companies",
            "交通运输：货运企业",
            "organizations",
            _company_columns("企业名称"),
            {"kind": Organization.Kind.ENTERPRISE},
        ),
        Preset(
            "postal_companies",
            "邮政管理：快递企业",
            "organizations",
            _company_columns("企业名称"),
            {"kind": Organization.Kind.ENTERPRISE},
        ),
        Preset(
            "market_platforms",
            "市场监管：外卖平台企业",
            "organizations",
            _company_columns("平台名称"),
            {"kind": Organization.Kind.PLATFORM},
        ),
        Preset(
            "commerce_platforms",
            "商务：电商平台企业",
            "organizations",
            _company_columns("平台名称"),
            {"kind": Organization.Kind.PLATFORM},
        ),
    )
}


@dataclass
class Mapping:
    columns: dict[str, str]  # source column → target name
    defaults: dict[str, object]
    employer_kind: str
    problems: list[dict]  # report entries


def mapping_problems_for_targets(layer: str, mapping: dict) -> list[str]:
    """Targets in a client's mapping that `layer` does not have (checked before a job is made)."""
    spec = IMPORTS.get(layer)
    names = {t.name for t in spec.targets} if spec else set()
    return [str(t) for t in mapping.values() if t not in names]


def resolve_mapping(
    *, layer: str, columns: list[str], preset: str = "", mapping: dict | None = None, has_geometry: bool = False
) -> Mapping:
    """The mapping for a file: the given one, else the preset's, else by column names; problems as report entries."""
    targets = {t.name: t for t in IMPORTS[layer].targets}
    problems: list[dict] = []
    defaults = dict(IMPORTS[layer].defaults)
    employer_kind = Organization.Kind.ENTERPRISE
    present = set(columns)
    if mapping:
        chosen = {str(k).strip(): str(v).strip() for k, v in mapping.items()}
        for column, target in chosen.items():
            if target not in targets:
                problems.append(
                    _problem(
                        column,
                        _("%(target)s is not a field of %(layer)s; known: %(known)s")
                        % {"target": target, "layer": layer, "known": ", ".join(targets)},
                    )
                )
            elif column not in present:
                problems.append(
                    _problem(
                        column,
                        _("The mapping names column %(column)s, which the file does not have. Its columns: %(cols)s")
                        % {"column": column, "cols": "、".join(columns)},
                    )
                )
    elif preset:
        spec = PRESETS[preset]
        chosen = {c: t for c, t in spec.columns.items() if c in present}
        defaults.update(spec.defaults)
        employer_kind = spec.employer_kind
    else:
        by_name = {}
        for name in targets:
            for alias in (name, *ALIASES.get(name, ())):
                by_name.setdefault(alias.lower(), name)
        chosen = {}
        for column in columns:
            target = by_name.get(column.lower())
            if target and target not in chosen.values():
                chosen[column] = target
    chosen = {c: t for c, t in chosen.items() if t in targets and c in present}
    covered = set(chosen.values())
    dupes = {t for t in covered if list(chosen.values()).count(t) > 1}
    for target in sorted(dupes):
        problems.append(
            _problem(
                None,
                _("Several columns map to %(target)s: %(cols)s")
                % {"target": target, "cols": "、".join(c for c, t in chosen.items() if t == target)},
            )
        )
    names_for = _names_for(preset)
    for target in targets.values():
        if target.required and target.name not in covered and target.name not in defaults:
            problems.append(
                _problem(
                    names_for(target.name),
                    _("Required column %(column)s (%(target)s) is missing; the file's columns: %(cols)s")
                    % {"column": names_for(target.name), "target": target.name, "cols": "、".join(columns)},
                )
            )
    if ("lon" in covered) != ("lat" in covered):
        missing = "lat" if "lon" in covered else "lon"
        problems.append(
            _problem(
                names_for(missing),
                _("Longitude and latitude come in pairs: %(column)s is missing.") % {"column": names_for(missing)},
            )
        )
    ignored = [c for c in columns if c not in chosen]
    if ignored and not problems:
        problems.append(
            {
                "row": None,
                "column": None,
                "level": "info",
                "problem": _("Columns not imported: %(cols)s") % {"cols": "、".join(ignored)},
            }
        )
    return Mapping(chosen, defaults, employer_kind, problems)


def _names_for(preset: str) -> Callable[[str], str]:
    spec = PRESETS.get(preset)
    reverse: dict[str, str] = {}
    if spec:
        for column, target in spec.columns.items():
            reverse.setdefault(target, column)

    def name(target: str) -> str:
        return reverse.get(target) or (ALIASES.get(target, (target,))[0])

    return name


def _problem(column: str | None, problem: str) -> dict:
    return {"row": None, "column": column, "problem": problem, "level": "error"}
