"""Find and load the data files (personas, principles, graphs) and the registered styles.

Data comes from plugins through the ``register_personas``, ``register_principles``
and ``register_graphs`` hooks; the shipped folders are registered by the
built-in ``data_files`` plugin. A file's id is its stem. Files are parsed once
and re-read only when they change.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from .errors import DataFileError, PsyagentsError, malformed_yaml, unknown
from .plugins import collect
from .specs import GraphSpec, Persona, Principle
from .styles import TherapyStyle

M = TypeVar("M", bound=BaseModel)

_cache: dict[tuple[str, int, str], Any] = {}
_cache_lock = threading.Lock()


def data_dir(kind: str) -> Path:
    """The shipped folder for ``kind`` (personas, principles, graphs).

    Inside a wheel the folders are packaged as ``psyagents/_data/KIND``; in a
    source checkout (or an editable install) they sit at the repository's top.
    """
    packaged = Path(__file__).parent / "_data" / kind
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / kind


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def format_validation_error(exc: ValidationError) -> str:
    """``field 'a.b': message`` for the first error (and a count of the others)."""
    errors = exc.errors()
    first = errors[0]
    loc = ".".join(str(p) for p in first["loc"]) or "(top level)"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"field '{loc}': {first['msg']}{more}"


def load_yaml_model(path: Path, model: type[M]) -> M:
    """Load one YAML data file into ``model``; the id is the file stem. Errors name the file and field."""
    path = Path(path)
    try:
        stat = path.stat()
    except OSError:
        raise DataFileError(f"{_display(path)}: file not found") from None
    if path.is_dir():
        raise DataFileError(f"{_display(path)}: is a directory, expected a YAML file")
    key = (str(path.resolve()), stat.st_mtime_ns, model.__name__)
    with _cache_lock:
        if key in _cache:
            return _cache[key]
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise DataFileError(f"{_display(path)}: not UTF-8 text") from None
    except yaml.YAMLError as exc:
        raise malformed_yaml(_display(path), exc) from None
    except RecursionError:
        raise DataFileError(f"{_display(path)}: nested too deeply to read") from None
    except OSError as exc:  # permission denied, a directory, a device...
        raise DataFileError(f"{_display(path)}: cannot read: {exc.strerror or exc}") from None
    if not isinstance(data, dict):
        raise DataFileError(f"{_display(path)}: expected a mapping of fields, got {type(data).__name__}")
    if "id" in data and data["id"] != path.stem:
        raise DataFileError(f"{_display(path)}: field 'id': '{data['id']}' differs from the file name '{path.stem}'")
    data["id"] = path.stem
    try:
        obj = model.model_validate(data)
    except ValidationError as exc:
        raise DataFileError(f"{_display(path)}: {format_validation_error(exc)}") from None
    except RecursionError:
        raise DataFileError(f"{_display(path)}: nested too deeply to read") from None
    with _cache_lock:
        _cache[key] = obj
    return obj


def _gather(hook: str, model: type[M]) -> dict[str, M]:
    """Everything registered through ``hook``: model instances, YAML files or folders of them."""
    out: dict[str, M] = {}
    for item in collect(hook, keyed=False):
        if isinstance(item, model):
            out.setdefault(item.id, item)  # type: ignore[attr-defined]
            continue
        path = Path(item)
        files = sorted([*path.glob("*.yaml"), *path.glob("*.yml")]) if path.is_dir() else [path]
        for f in files:
            obj = load_yaml_model(f, model)
            out.setdefault(obj.id, obj)  # type: ignore[attr-defined]
    return out


def _resolve(kind: str, ref: Any, model: type[M], available: dict[str, M]) -> M:
    if isinstance(ref, model):
        return ref
    if not isinstance(ref, (str, os.PathLike)):
        raise PsyagentsError(f"{kind} must be an id, a path to a YAML file or a {model.__name__}, not {ref!r}")
    ref = str(ref)
    if ref in available:
        return available[ref]
    if ref.endswith((".yaml", ".yml")) or "/" in ref:
        return load_yaml_model(Path(ref), model)
    raise unknown(kind, ref, available)


def personas() -> dict[str, Persona]:
    return _gather("register_personas", Persona)


def get_persona(ref: str | Persona) -> Persona:
    """A persona by id, by path to a YAML file, or as given."""
    return _resolve("persona", ref, Persona, personas() if not isinstance(ref, Persona) else {})


def principles() -> dict[str, Principle]:
    return _gather("register_principles", Principle)


def get_principle(ref: str | Principle) -> Principle:
    return _resolve("principle", ref, Principle, principles() if not isinstance(ref, Principle) else {})


def graph_specs() -> dict[str, GraphSpec]:
    return _gather("register_graphs", GraphSpec)


def get_graph_spec(ref: str | GraphSpec) -> GraphSpec:
    """A graph spec by id, by path to a YAML file, or as given."""
    return _resolve("graph", ref, GraphSpec, graph_specs() if not isinstance(ref, GraphSpec) else {})


def styles() -> dict[str, TherapyStyle]:
    return {name: obj for name, (obj, _) in collect("register_therapy_styles", key=lambda s: s.name).items()}


def get_style(ref: str | TherapyStyle) -> TherapyStyle:
    if isinstance(ref, TherapyStyle):
        return ref
    if not isinstance(ref, str):
        raise PsyagentsError(f"style must be a therapy style name or a TherapyStyle, not {ref!r}; available: {', '.join(sorted(styles()))}")
    available = styles()
    if ref not in available:
        raise unknown("therapy style", ref, available)
    return available[ref]
