"""What an import can fill in, per layer, and how a file's columns map onto it.

A mapping is {source column → target field}. Without one, a preset (the department feeds: transport,
postal, market regulation, commerce) gives it; without either, columns are matched by the usual Chinese
and English names (`ALIASES`). Values are converted by `converter(kind)`: each returns the value or raises
`ValueError` with a message for the report.
"""

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from django.utils.translation import gettext as _
from django.utils.translation import override

# reports are shown to the importer and stored with the job: values masked as everywhere else
from layers.crypto import mask_id_card, mask_phone
from layers.models import Gender, Organization, PersonCategory, Place, Thing, WorkKind


@dataclass(frozen=True)
class Target:
    name: str
    kind: str = "text"  # text, id_card, phone, date, bool, float, code, credit_code, or a choice set's name
    required: bool = False
    max_length: int | None = None


_POINT = (Target("lon", "float"), Target("lat", "float"))

TARGETS: dict[str, tuple[Target, ...]] = {
    "people": (
        Target("name", required=True, max_length=100),
        Target("id_card", "id_card", required=True),
        Target("phone", "phone"),
        Target("gender", "gender"),
        Target("birth_date", "date"),
        Target("household", "code", max_length=40),
        Target("address", max_length=300),
        *_POINT,
        Target("grid", "code", max_length=20),
        Target("categories", "categories"),
        Target("platform", max_length=100),
        Target("work_kind", "work_kind"),
        Target("employer_code", "credit_code"),
        Target("employer_name", max_length=200),
        Target("branch_code", "code", max_length=40),
        Target("mobile_member", "bool"),
    ),
    "households": (
        Target("code", "code", required=True, max_length=40),
        Target("address", required=True, max_length=300),
        Target("building", max_length=20),
        Target("unit", max_length=20),
        Target("room", max_length=20),
        *_POINT,
        Target("grid", "code", max_length=20),
    ),
    "places": (
        Target("code", "code", required=True, max_length=40),
        Target("name", required=True, max_length=200),
        Target("kind", "place_kind"),
        Target("address", max_length=300),
        Target("phone", max_length=32),
        *_POINT,
        Target("grid", "code", max_length=20),
    ),
    "things": (
        Target("code", "code", required=True, max_length=40),
        Target("name", required=True, max_length=200),
        Target("kind", "thing_kind"),
        Target("condition", "condition"),
        *_POINT,
        Target("address", max_length=300),
        Target("grid", "code", max_length=20),
    ),
    "organizations": (
        Target("code", "code", required=True, max_length=40),
        Target("name", required=True, max_length=200),
        Target("kind", "organization_kind"),
        Target("parent_code", "code", max_length=40),
        Target("address", max_length=300),
        Target("phone", max_length=32),
        *_POINT,
        Target("grid", "code", max_length=20),
    ),
}
LAYERS = tuple(TARGETS)

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

# Choice values: the stored code, its English label, and the Chinese words departments write.
CHOICES: dict[str, dict[str, str]] = {
    "gender": {
        "男": Gender.MALE,
        "女": Gender.FEMALE,
        "m": Gender.MALE,
        "f": Gender.FEMALE,
        "男性": Gender.MALE,
        "女性": Gender.FEMALE,
        "1": Gender.MALE,
        "2": Gender.FEMALE,
    },
    "work_kind": {
        "快递员": WorkKind.COURIER,
        "快递": WorkKind.COURIER,
        "快递小哥": WorkKind.COURIER,
        "外卖骑手": WorkKind.FOOD_DELIVERY,
        "外卖": WorkKind.FOOD_DELIVERY,
        "骑手": WorkKind.FOOD_DELIVERY,
        "外卖员": WorkKind.FOOD_DELIVERY,
        "网约车司机": WorkKind.RIDE_HAILING,
        "网约车": WorkKind.RIDE_HAILING,
        "货车司机": WorkKind.TRUCK_DRIVER,
        "货运司机": WorkKind.TRUCK_DRIVER,
        "卡车司机": WorkKind.TRUCK_DRIVER,
        "主播": WorkKind.LIVE_STREAMER,
        "网络主播": WorkKind.LIVE_STREAMER,
        "带货主播": WorkKind.LIVE_STREAMER,
    },
    "categories": {
        "户籍人口": PersonCategory.REGISTERED,
        "户籍": PersonCategory.REGISTERED,
        "流动人口": PersonCategory.FLOATING,
        "留守儿童": PersonCategory.LEFT_BEHIND_CHILD,
        "留守老人": PersonCategory.LEFT_BEHIND_ELDER,
        "独居老人": PersonCategory.ELDERLY_ALONE,
        "空巢老人": PersonCategory.ELDERLY_ALONE,
        "残疾人": PersonCategory.DISABLED,
        "低保": PersonCategory.LOW_INCOME,
        "低收入": PersonCategory.LOW_INCOME,
        "刑满释放": PersonCategory.RELEASED,
        "刑满释放人员": PersonCategory.RELEASED,
        "社区戒毒": PersonCategory.DRUG_REHAB,
        "吸毒人员": PersonCategory.DRUG_REHAB,
        "退役军人": PersonCategory.VETERAN,
        "新就业形态劳动者": PersonCategory.GIG_WORKER,
        "新业态": PersonCategory.GIG_WORKER,
        "党员": PersonCategory.PARTY_MEMBER,
        "干部": PersonCategory.CADRE,
    },
    "place_kind": {
        "餐饮": Place.Kind.DINING,
        "购物": Place.Kind.SHOPPING,
        "商超": Place.Kind.SHOPPING,
        "住宿": Place.Kind.LODGING,
        "酒店": Place.Kind.LODGING,
        "交通": Place.Kind.TRANSIT,
        "教育": Place.Kind.EDUCATION,
        "学校": Place.Kind.EDUCATION,
        "医疗": Place.Kind.MEDICAL,
        "政务": Place.Kind.GOVERNMENT,
        "文体": Place.Kind.CULTURE,
        "小区": Place.Kind.RESIDENTIAL,
        "其他": Place.Kind.OTHER,
    },
    "thing_kind": {
        "消防栓": Thing.Kind.HYDRANT,
        "摄像头": Thing.Kind.CAMERA,
        "井盖": Thing.Kind.MANHOLE,
        "路灯": Thing.Kind.STREET_LIGHT,
        "除颤仪": Thing.Kind.AED,
        "垃圾桶": Thing.Kind.BIN,
        "充电桩": Thing.Kind.CHARGING_PILE,
        "灭火器": Thing.Kind.EXTINGUISHER,
        "其他": Thing.Kind.OTHER,
    },
    "condition": {
        "正常": Thing.Condition.OK,
        "完好": Thing.Condition.OK,
        "损坏": Thing.Condition.DAMAGED,
        "报废": Thing.Condition.RETIRED,
    },
    "organization_kind": {
        "党委": Organization.Kind.PARTY_COMMITTEE,
        "党总支": Organization.Kind.GENERAL_BRANCH,
        "党支部": Organization.Kind.BRANCH,
        "企业": Organization.Kind.ENTERPRISE,
        "平台": Organization.Kind.PLATFORM,
        "平台企业": Organization.Kind.PLATFORM,
        "协会": Organization.Kind.ASSOCIATION,
        "社会组织": Organization.Kind.ASSOCIATION,
        "部门": Organization.Kind.DEPARTMENT,
    },
}
# The English labels, whichever language is active when this module is first imported.
with override("en"):
    for _name, _choices in (
        ("gender", Gender),
        ("work_kind", WorkKind),
        ("categories", PersonCategory),
        ("place_kind", Place.Kind),
        ("thing_kind", Thing.Kind),
        ("condition", Thing.Condition),
        ("organization_kind", Organization.Kind),
    ):
        for _value, _label in _choices.choices:
            CHOICES[_name].setdefault(_value, _value)
            CHOICES[_name].setdefault(str(_label).lower(), _value)
DEFAULTS = {
    "places": {"kind": Place.Kind.OTHER},
    "things": {"kind": Thing.Kind.OTHER},
    "organizations": {"kind": Organization.Kind.ENTERPRISE},
}

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_ID_RE = re.compile(r"^[1-9]\d{16}[\dX]$")
_PHONE_RE = re.compile(r"^(\+?86)?(1[3-9]\d{9}|0\d{2,3}\d{7,8})$")
_CREDIT_RE = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$")
_CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def id_card_check(value: str) -> str:
    """The GB 11643-1999 check character of the first 17 digits."""
    return _ID_CHECK[sum(int(d) * w for d, w in zip(value[:17], _ID_WEIGHTS, strict=True)) % 11]


def credit_code_check(value: str) -> str:
    """The GB 32100-2015 check character of a unified social credit code's first 17 characters."""
    total = sum(_CREDIT_ALPHABET.index(c) * w for c, w in zip(value[:17], _CREDIT_WEIGHTS, strict=True))
    return _CREDIT_ALPHABET[(31 - total % 31) % 31]


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value).strip()


def _id_card(value: object) -> str:
    if isinstance(value, int | float):
        raise ValueError(
            _(
                "stored as a number (a spreadsheet keeps only 15 digits of it): format the column as "
                "text and export again"
            )
        )
    text = "".join(_text(value).split()).upper()
    if not _ID_RE.match(text):
        raise ValueError(_("%(value)s is not an 18-character ID-card number") % {"value": mask_id_card(text)})
    try:
        dt.date(int(text[6:10]), int(text[10:12]), int(text[12:14]))
    except ValueError as exc:
        raise ValueError(_("%(value)s holds no valid birth date") % {"value": mask_id_card(text)}) from exc
    if id_card_check(text) != text[17]:
        raise ValueError(_("%(value)s: wrong check digit (GB 11643)") % {"value": mask_id_card(text)})
    return text


def _phone(value: object) -> str:
    text = re.sub(r"[\s\-()]", "", _text(value))
    if text and not _PHONE_RE.match(text):
        raise ValueError(_("%(value)s is not a mobile or landline number") % {"value": mask_phone(text)})
    return text


def _date(value: object) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = _text(value)
    if not text:
        return None
    for pattern in ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%Y.%m.%d", "%Y年%m月%d日"):
        try:
            return dt.datetime.strptime(text[:10] if pattern == "%Y-%m-%d" else text, pattern).date()
        except ValueError:
            continue
    raise ValueError(_("%(value)s is not a date (write 2024-05-31)") % {"value": text})


def _bool(value: object) -> bool | None:
    text = _text(value).lower()
    if text in ("",):
        return None
    if text in ("是", "1", "true", "yes", "y", "t"):
        return True
    if text in ("否", "0", "false", "no", "n", "f"):
        return False
    raise ValueError(_("%(value)s is not yes/no (是/否)") % {"value": text})


def _float(value: object) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        number = float(value)
    else:
        try:
            number = float(str(value).strip())
        except ValueError as exc:
            raise ValueError(_("%(value)s is not a number") % {"value": value}) from exc
    if number != number or number in (float("inf"), float("-inf")):
        raise ValueError(_("%(value)s is not a number") % {"value": value})
    return number


def _credit_code(value: object) -> str:
    text = _text(value).upper()
    if text and (not _CREDIT_RE.match(text) or credit_code_check(text) != text[17]):
        raise ValueError(_("%(value)s is not a valid unified social credit code (GB 32100)") % {"value": text})
    return text


def _choice(name: str) -> Callable[[object], str]:
    table = CHOICES[name]

    def convert(value: object) -> str:
        text = _text(value)
        if not text:
            return ""
        found = table.get(text) or table.get(text.lower())
        if found is None:
            raise ValueError(
                _("%(value)s is not one of %(known)s")
                % {"value": text, "known": "、".join(k for k in table if not k.isascii())}
            )
        return str(found)

    return convert


def _categories(value: object) -> list[str]:
    convert = _choice("categories")
    return sorted({convert(part) for part in re.split(r"[,，;；、/|]", _text(value)) if part.strip()})


def converter(target: Target) -> Callable[[object], object]:
    """The function that turns a cell into the target's value, raising ValueError with the problem."""
    if target.kind == "id_card":
        return _id_card
    if target.kind == "phone":
        return _phone
    if target.kind == "date":
        return _date
    if target.kind == "bool":
        return _bool
    if target.kind == "float":
        return _float
    if target.kind == "credit_code":
        return _credit_code
    if target.kind == "categories":
        return _categories
    if target.kind in CHOICES:
        return _choice(target.kind)
    limit = target.max_length

    def text(value: object) -> str:
        result = _text(value)
        if limit and len(result) > limit:
            raise ValueError(_("longer than %(n)d characters") % {"n": limit})
        return result

    return text


@dataclass
class Mapping:
    columns: dict[str, str]  # source column → target name
    defaults: dict[str, object]
    employer_kind: str
    problems: list[dict]  # report entries


def mapping_problems_for_targets(layer: str, mapping: dict) -> list[str]:
    """Targets in a client's mapping that `layer` does not have (checked before a job is made)."""
    names = {t.name for t in TARGETS.get(layer, ())}
    return [str(t) for t in mapping.values() if t not in names]


def resolve_mapping(
    *, layer: str, columns: list[str], preset: str = "", mapping: dict | None = None, has_geometry: bool = False
) -> Mapping:
    """The mapping for a file: the given one, else the preset's, else by column names; problems as report entries."""
    targets = {t.name: t for t in TARGETS[layer]}
    problems: list[dict] = []
    defaults = dict(DEFAULTS.get(layer, {}))
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
