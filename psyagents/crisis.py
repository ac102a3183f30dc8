"""Crisis resources for a client's locale: who to call or text when risk is high.

The shipped table is ``crisis_resources.yaml`` beside this module (compiled
2026-11; check every number before real-world use). A YAML file named by the
``PSYAGENTS_CRISIS_RESOURCES`` environment variable is merged over it: each of
its keys adds a country or replaces the shipped entry for it.

Keys are ``default``, country codes (``US``, ``CN``) or locales (``zh-TW``);
``resources_for("en-US")`` tries the whole locale, then its region, then
``default``.
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import DataFileError, malformed_yaml

ENV_VAR = "PSYAGENTS_CRISIS_RESOURCES"
SHIPPED_FILE = Path(__file__).with_name("crisis_resources.yaml")
DEFAULT_KEY = "default"

_COUNTRY = re.compile(r"^[A-Za-z]{2}$")
_LOCALE = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})+$")


class CrisisResource(BaseModel):
    """One service: its name, what to call or text, and a line about it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    contact: str = Field(min_length=1)  # short, so a reply can be checked for it
    description: str = ""


class _StringLoader(yaml.SafeLoader):
    """YAML that keeps plain scalars as text: NO (Norway) is not False, 988 is not a number."""


_StringLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag.rsplit(":", 1)[-1] in ("null", "merge")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def normalise_key(key: str) -> str | None:
    """``default``, ``US``, ``zh-TW`` (country upper, language lower); None if not a code."""
    if key.lower() == DEFAULT_KEY:
        return DEFAULT_KEY
    if _COUNTRY.match(key):
        return key.upper()
    if _LOCALE.match(key):
        parts = re.split(r"[-_]", key)
        return "-".join([parts[0].lower(), *(p.upper() if len(p) == 2 else p.title() for p in parts[1:])])
    return None


def load_resources(path: str | os.PathLike[str]) -> dict[str, list[CrisisResource]]:
    """Read and check one resources file; errors start with the path and name the bad field."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataFileError(f"{path}: file not found") from None
    except UnicodeDecodeError:
        raise DataFileError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise DataFileError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        data = yaml.load(text, Loader=_StringLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise malformed_yaml(str(path), exc) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise DataFileError(f"{path}: expected a mapping of country or locale codes to lists of resources, got {type(data).__name__}")
    table: dict[str, list[CrisisResource]] = {}
    for raw_key, entries in data.items():
        key = normalise_key(str(raw_key))
        if key is None:
            raise DataFileError(f"{path}: key '{raw_key}': expected 'default', a country code (US) or a locale (zh-TW)")
        if not isinstance(entries, list) or not entries:
            got = "an empty list" if isinstance(entries, list) else type(entries).__name__
            raise DataFileError(f"{path}: field '{raw_key}': expected a non-empty list of resources, got {got}")
        resources = []
        for i, entry in enumerate(entries):
            try:
                resources.append(CrisisResource.model_validate(entry))
            except ValidationError as exc:
                err = exc.errors()[0]
                loc = "".join(f".{p}" for p in err["loc"])
                raise DataFileError(f"{path}: field '{raw_key}[{i}]{loc}': {err['msg']}") from None
        table[key] = resources
    return table


@functools.lru_cache(maxsize=1)
def _shipped() -> dict[str, list[CrisisResource]]:
    table = load_resources(SHIPPED_FILE)
    if DEFAULT_KEY not in table:  # pragma: no cover - guards the shipped file
        raise DataFileError(f"{SHIPPED_FILE}: field '{DEFAULT_KEY}': missing")
    return table


def crisis_resources() -> dict[str, list[CrisisResource]]:
    """The shipped table with the ``PSYAGENTS_CRISIS_RESOURCES`` file, if set, merged over it."""
    table = dict(_shipped())
    extra = os.environ.get(ENV_VAR, "").strip()
    if extra:
        table.update(_override(extra))
    return table


def _override(path: str) -> dict[str, list[CrisisResource]]:
    """The override file, parsed again only when it has changed (a crisis turn may run on a batch's event loop)."""
    try:
        st = os.stat(path)
    except OSError:
        return load_resources(path)  # says what is wrong with the path
    return _override_at(path, st.st_ino, st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=8)
def _override_at(path: str, inode: int, mtime_ns: int, size: int) -> dict[str, list[CrisisResource]]:
    return load_resources(path)


def resources_for(locale: str) -> list[CrisisResource]:
    """Resources for a locale such as ``en-US`` or ``zh-TW``: the locale, its region, else ``default``."""
    table = crisis_resources()
    key = normalise_key((locale or "").strip())
    candidates = []
    if key and key != DEFAULT_KEY:
        candidates.append(key)
        region = next((p for p in reversed(key.split("-")[1:]) if len(p) == 2 and p.isalpha()), None)
        if region:
            candidates.append(region)
    for candidate in candidates:
        if candidate in table:
            return list(table[candidate])
    return list(table[DEFAULT_KEY])


def format_resources(locale: str, language: str = "en") -> str:
    """One short sentence giving the resources for ``locale``, in Chinese for language ``zh``."""
    resources = resources_for(locale)
    if (language or "").lower().startswith("zh"):
        listed = "；".join(f"{r.name}（{r.contact}）" for r in resources)
        return f"如果你有伤害自己的想法或正处于危险中，请现在就联系：{listed}。"
    items = [f"{r.name} ({r.contact})" for r in resources]
    listed = items[0] if len(items) == 1 else f"{', '.join(items[:-1])} or {items[-1]}"
    return f"If you are thinking about suicide or are in danger, please reach out now: {listed}."
