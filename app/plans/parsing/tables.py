"""Data tables of the parser, kept as YAML under workflows/ so a policy officer can extend them.

- workflows/regions.yaml: regions, their level prefix (自治区/省/市), id slug and the
  governments one level down that implement every task (各盟行政公署、市人民政府 → 12 names).
- workflows/unit_aliases.yaml: short and full forms of unit names (发展改革委 = 发展和改革委员会).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

WORKFLOWS_DIR = Path(__file__).resolve().parents[3] / "workflows"
REGIONS_FILE = WORKFLOWS_DIR / "regions.yaml"
ALIASES_FILE = WORKFLOWS_DIR / "unit_aliases.yaml"


@dataclass(frozen=True)
class Region:
    name: str
    slug: str
    prefix: str
    short: tuple[str, ...] = ()
    code_prefixes: tuple[str, ...] = ()
    implementing_phrases: tuple[str, ...] = ()
    implementing_units: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        """Full and short names, longest first."""
        return tuple(sorted({self.name, *self.short}, key=len, reverse=True))


@dataclass(frozen=True)
class RegionTable:
    regions: tuple[Region, ...] = field(default_factory=tuple)

    def by_text_start(self, text: str) -> Region | None:
        """The region whose name (full or short) starts `text`, longest name first."""
        best: tuple[int, Region] | None = None
        for region in self.regions:
            for name in region.names:
                if text.startswith(name) and (best is None or len(name) > best[0]):
                    best = (len(name), region)
        return best[1] if best else None

    def by_code(self, code: str) -> Region | None:
        best: tuple[int, Region] | None = None
        for region in self.regions:
            for prefix in region.code_prefixes:
                if code.startswith(prefix) and (best is None or len(prefix) > best[0]):
                    best = (len(prefix), region)
        return best[1] if best else None

    def all_names(self) -> list[str]:
        """Every region name, short name and implementing unit, longest first."""
        names: set[str] = set()
        for region in self.regions:
            names.update(region.names)
            names.update(region.implementing_units)
        return sorted(names, key=len, reverse=True)


def _strings(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, Iterable):
        return tuple(str(v).strip() for v in value if str(v).strip())
    return (str(value),)


@lru_cache(maxsize=4)
def load_regions(path: Path = REGIONS_FILE) -> RegionTable:
    if not path.exists():
        return RegionTable()
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    regions = []
    for raw in data.get("regions") or []:
        implementing = raw.get("implementing") or {}
        regions.append(Region(
            name=str(raw["name"]),
            slug=str(raw.get("slug") or "plan"),
            prefix=str(raw.get("prefix") or ""),
            short=_strings(raw.get("short")),
            code_prefixes=_strings(raw.get("code_prefixes")),
            implementing_phrases=_strings(implementing.get("phrases")),
            implementing_units=_strings(implementing.get("units")),
        ))
    return RegionTable(tuple(regions))


def _alias_pairs(data: Mapping[str, object]) -> dict[str, str]:
    """{form: canonical} for every form, the canonical name included."""
    pairs: dict[str, str] = {}
    for canonical, forms in data.items():
        canonical = str(canonical).strip()
        pairs.setdefault(canonical, canonical)
        for form in _strings(forms):
            pairs.setdefault(form, canonical)
    return pairs


@lru_cache(maxsize=4)
def load_alias_table(path: Path = ALIASES_FILE) -> dict[str, str]:
    if not path.exists():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return _alias_pairs(data.get("aliases") or {})


def alias_table(extra: Mapping[str, object] | None = None) -> dict[str, str]:
    """The shipped table plus `extra` ({canonical: [forms]}), extra winning on conflicts."""
    pairs = dict(load_alias_table())
    if extra:
        pairs.update(_alias_pairs(extra))
    return pairs


def alias_regex(pairs: Mapping[str, str]) -> re.Pattern[str] | None:
    if not pairs:
        return None
    forms = sorted(pairs, key=len, reverse=True)
    return re.compile("|".join(re.escape(f) for f in forms))
