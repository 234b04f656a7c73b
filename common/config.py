"""Frozen dataclass configs, layered overrides and a generated command line.

A paper's ``config.py`` declares one frozen dataclass whose defaults are the paper's own
(full-profile) settings, documents every field with a docstring on the line below it, and
exports ``QUICK`` (and optionally ``SMOKE`` / ``FULL``) as plain dicts of overrides::

    @dataclass(frozen=True)
    class Config(BaseConfig):
        lr: float = 1e-3
        \"\"\"Adam learning rate (paper, Sec. 5).\"\"\"

    QUICK = {"epochs": 20}

Precedence, lowest first (CONVENTIONS.md): dataclass defaults < profile overrides (QUICK) <
table settings < per-cell overrides < command-line flags. Every layer goes through
:func:`apply_overrides`, which rejects unknown keys and values of the wrong type with a
message naming the key, the layer and the valid choices.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import json
import math
import textwrap
import types
import typing
from dataclasses import dataclass
from typing import Any, Mapping

PROFILES = ("smoke", "quick", "full")


class ConfigError(ValueError):
    """A configuration value or key that cannot be used; the message says which and why."""


@dataclass(frozen=True)
class BaseConfig:
    """Fields every paper config has."""

    seed: int = 0
    """Random seed for python, numpy and torch (and CUDA)."""
    device: str = "auto"
    """'auto' (CUDA when present, else CPU), 'cpu', 'cuda' or 'cuda:N'."""
    threads: int = 0
    """CPU threads for torch; 0 = all cores of this machine (or the share given by the executor)."""
    deterministic: bool = False
    """Ask torch for deterministic algorithms (slower; warns where none exists)."""


# --------------------------------------------------------------------------------------
# Field documentation, read from the docstring that follows each field in the class body.


def field_docs(cls: type) -> dict[str, str]:
    """Map field name -> docstring for a dataclass and its dataclass bases."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        try:
            source = textwrap.dedent(inspect.getsource(klass))
        except (OSError, TypeError):
            continue
        body = ast.parse(source).body[0].body  # type: ignore[attr-defined]
        for node, nxt in zip(body, body[1:]):
            if (
                isinstance(node, ast.AnnAssign)
                and isinstance(node.target, ast.Name)
                and isinstance(nxt, ast.Expr)
                and isinstance(nxt.value, ast.Constant)
                and isinstance(nxt.value.value, str)
            ):
                docs[node.target.id] = " ".join(nxt.value.value.split())
    return docs


# --------------------------------------------------------------------------------------
# Type checking and coercion of override values.


def _field_types(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _parse_bool(text: str) -> bool:
    low = text.strip().lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"not a boolean: {text!r} (use true/false)")


def coerce(value: Any, tp: Any, key: str = "?", from_text: bool = False) -> Any:
    """Return ``value`` as type ``tp`` or raise ConfigError.

    ``from_text`` is for command-line strings: "3" -> int, "a,b" -> tuple, "none" -> None.
    Values from YAML/dicts must already have the right type (int is accepted for float, and
    a list for a tuple).
    """
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    try:
        if tp is Any:
            return value
        if origin in (typing.Union, types.UnionType):
            if value is None or (from_text and str(value).lower() in ("none", "null")):
                if type(None) in args:
                    return None
            errors = []
            for arg in args:
                if arg is type(None):
                    continue
                try:
                    return coerce(value, arg, key, from_text)
                except ConfigError as exc:
                    errors.append(str(exc))
            raise ConfigError(f"{key}: {value!r} is not {_type_name(tp)}")
        if origin is typing.Literal:
            cand = value
            if from_text:
                for a in args:
                    if str(a) == str(value):
                        cand = a
            if cand not in args:
                raise ConfigError(f"{key}: {value!r} is not one of {list(args)}")
            return cand
        if origin in (tuple, list):
            if from_text and isinstance(value, str):
                items = [v for v in value.split(",") if v.strip() != ""]
            elif isinstance(value, (list, tuple)):
                items = list(value)
            else:
                raise ConfigError(f"{key}: expected a list, got {type(value).__name__} {value!r}")
            if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
                item_types = [args[0]] * len(items)
            elif origin is tuple and args:
                if len(args) != len(items):
                    raise ConfigError(f"{key}: expected {len(args)} items, got {len(items)}")
                item_types = list(args)
            else:
                item_types = [args[0] if args else Any] * len(items)
            out = [coerce(v, t, key, from_text) for v, t in zip(items, item_types)]
            return tuple(out) if origin is tuple else out
        if tp is bool:
            if isinstance(value, bool):
                return value
            if from_text and isinstance(value, str):
                return _parse_bool(value)
            raise ConfigError(f"{key}: expected bool, got {type(value).__name__} {value!r}")
        if tp is int:
            if isinstance(value, bool):
                raise ConfigError(f"{key}: expected int, got bool {value!r}")
            if isinstance(value, int):
                return value
            if from_text and isinstance(value, str):
                return int(value)
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise ConfigError(f"{key}: expected int, got {type(value).__name__} {value!r}")
        if tp is float:
            if isinstance(value, bool):
                raise ConfigError(f"{key}: expected float, got bool {value!r}")
            if isinstance(value, (int, float)):
                return float(value)
            if from_text and isinstance(value, str):
                return float(value)
            raise ConfigError(f"{key}: expected float, got {type(value).__name__} {value!r}")
        if tp is str:
            if isinstance(value, str):
                return value
            raise ConfigError(f"{key}: expected str, got {type(value).__name__} {value!r}")
        if isinstance(value, tp):
            return value
    except ValueError as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(f"{key}: cannot read {value!r} as {_type_name(tp)} ({exc})") from None
    raise ConfigError(f"{key}: expected {_type_name(tp)}, got {type(value).__name__} {value!r}")


def apply_overrides(cfg: Any, overrides: Mapping[str, Any] | None, layer: str = "override",
                    from_text: bool = False) -> Any:
    """Return a copy of ``cfg`` with ``overrides`` applied after validating every key and type."""
    if not overrides:
        return cfg
    types_ = _field_types(type(cfg))
    unknown = [k for k in overrides if k not in types_]
    if unknown:
        raise ConfigError(
            f"unknown config key {unknown[0]!r} in {layer} for {type(cfg).__module__}."
            f"{type(cfg).__name__}; valid keys: {', '.join(sorted(types_))}"
        )
    changes = {}
    for key, value in overrides.items():
        try:
            changes[key] = coerce(value, types_[key], key, from_text)
        except ConfigError as exc:
            raise ConfigError(f"{exc} (in {layer})") from None
    new = dataclasses.replace(cfg, **changes)
    try:
        check_common_fields(new)
    except ConfigError as exc:
        raise ConfigError(f"{exc} (in {layer})") from None
    validate = getattr(new, "validate", None)
    if callable(validate):
        try:
            validate()
        except ConfigError:
            raise
        except ValueError as exc:  # a paper's validate() may raise plain ValueError
            raise ConfigError(f"{exc} (in {layer})") from None
    return new


def check_common_fields(cfg: Any) -> None:
    """Rules that hold in every paper, checked before any cell runs (a paper's ``validate()`` adds its
    own): no NaN in a float field, ``seed`` >= 0, and learning rates (``lr``, ``learning_rate``,
    ``*_lr``) finite and >= 0."""
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        if isinstance(value, float) and math.isnan(value):
            raise ConfigError(f"{f.name}: NaN is not a setting")
        if f.name == "seed" and value < 0:
            raise ConfigError(f"seed must be >= 0, got {value}")
        if (f.name in ("lr", "learning_rate") or f.name.endswith("_lr")) and not (math.isfinite(value) and value >= 0):
            raise ConfigError(f"{f.name}: a learning rate must be finite and >= 0, got {value}")


def profile_overrides(config_module: Any, profile: str) -> dict[str, Any]:
    """The ``SMOKE`` / ``QUICK`` / ``FULL`` dict of a paper's config module.

    ``smoke`` builds on ``quick``: smoke = QUICK then SMOKE.
    """
    if profile not in PROFILES:
        raise ConfigError(f"unknown profile {profile!r}; valid profiles: {', '.join(PROFILES)}")
    quick = dict(getattr(config_module, "QUICK", {}) or {})
    if profile == "quick":
        return quick
    if profile == "smoke":
        return {**quick, **(getattr(config_module, "SMOKE", {}) or {})}
    return dict(getattr(config_module, "FULL", {}) or {})


def resolve(config_cls: type, config_module: Any = None, profile: str = "full",
            table: Mapping[str, Any] | None = None, cell: Mapping[str, Any] | None = None,
            cli: Mapping[str, Any] | None = None, cli_from_text: bool = True) -> Any:
    """Build a config by the house precedence: defaults < profile < table < cell < CLI."""
    cfg = config_cls()
    if config_module is not None:
        cfg = apply_overrides(cfg, profile_overrides(config_module, profile), f"profile {profile}")
    elif profile not in PROFILES:
        raise ConfigError(f"unknown profile {profile!r}; valid profiles: {', '.join(PROFILES)}")
    cfg = apply_overrides(cfg, table, "table settings")
    cfg = apply_overrides(cfg, cell, "cell overrides")
    cfg = apply_overrides(cfg, cli, "command line", from_text=cli_from_text)
    return cfg


def to_dict(cfg: Any) -> dict[str, Any]:
    """JSON-ready dict of a config (tuples become lists)."""
    return json.loads(json.dumps(dataclasses.asdict(cfg)))


#: Field metadata of a setting that cannot change a run's result (a download switch, a log
#: interval): ``x: bool = field(default=False, metadata=EXECUTION_ONLY)``. Such fields are left
#: out of the ``run_id``, so changing them reuses finished cells. Thread count, device and
#: ``deterministic`` are *not* execution-only: they change the floating-point result.
EXECUTION_ONLY = {"execution_only": True}


def result_dict(cfg: Any) -> dict[str, Any]:
    """:func:`to_dict` without the execution-only fields: what a ``run_id`` hashes."""
    out = to_dict(cfg)
    for f in dataclasses.fields(cfg):
        if f.metadata.get("execution_only"):
            out.pop(f.name, None)
    return out


# --------------------------------------------------------------------------------------
# Generated command line.


def add_config_arguments(parser: argparse.ArgumentParser, config_cls: type) -> None:
    """Add one ``--field`` option per config field, help text from the field docstring."""
    docs = field_docs(config_cls)
    types_ = _field_types(config_cls)
    group = parser.add_argument_group(f"{config_cls.__name__} fields (override any layer)")
    for f in dataclasses.fields(config_cls):
        default = f.default if f.default is not dataclasses.MISSING else (
            f.default_factory() if f.default_factory is not dataclasses.MISSING else None)  # type: ignore[misc]
        help_text = f"{docs.get(f.name, '')} [{_type_name(types_[f.name])}, default: {default!r}]"
        group.add_argument(f"--{f.name}", dest=f"cfg__{f.name}", default=None, metavar="V",
                           help=help_text.replace("%", "%%"))


def cli_overrides(args: argparse.Namespace) -> dict[str, str]:
    """The config options actually given on the command line, as raw strings."""
    return {k[len("cfg__"):]: v for k, v in vars(args).items() if k.startswith("cfg__") and v is not None}


def parse_set_pairs(pairs: list[str] | None) -> dict[str, str]:
    """``["lr=0.1", "epochs=3"]`` -> ``{"lr": "0.1", "epochs": "3"}``."""
    out: dict[str, str] = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise ConfigError(f"--set expects key=value, got {pair!r}")
        key, value = pair.split("=", 1)
        out[key.strip()] = value
    return out
