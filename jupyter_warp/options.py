"""Run settings as command-line flags, generated from ``WarpConfig``: the ``jupyter-warp``
commands and the ``%%warp`` magic share one set, so a setting has one name and one help.

Every flag defaults to "not given" so that only what the user names overrides the settings
below it (``WarpConfig`` defaults, the run's saved settings, or the notebook's ``Warp``).
"""

from __future__ import annotations

import argparse
from dataclasses import fields
from typing import Any

from .config import FALSE_WORDS, FIELDS, TRUE_WORDS, WarpConfig, setting_default, setting_type
from .errors import ConfigError
from .llm.registry import parse_backend_options


def coerce(name: str, value: str) -> Any:
    """A setting's value from its text form (``--set KEY=VALUE``)."""
    if name not in FIELDS:
        raise ConfigError(f"unknown setting {name!r}; known: {', '.join(sorted(FIELDS))}")
    kind = setting_type(name)
    if value.lower() in ("none", "null") and FIELDS[name].default is None:
        return None
    try:
        if kind is bool:
            if value.lower() not in TRUE_WORDS + FALSE_WORDS:
                raise ValueError(value)
            return value.lower() in TRUE_WORDS
        if kind in (int, float):
            return kind(value)
        if kind is dict:
            return parse_backend_options(item for item in value.split(",") if item.strip())
    except (ValueError, ConfigError):
        raise ConfigError(f"--set {name}={value}: expected {kind.__name__}") from None
    return value


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """One flag per setting, plus ``--set KEY=VALUE`` and ``--no-grammar``."""
    group = parser.add_argument_group("run settings")
    for f in fields(WarpConfig):
        flag = f.metadata.get("flag") or "--" + f.name.replace("_", "-")
        kind, default = setting_type(f.name), setting_default(f.name)
        shown = f" (default: {default})" if default not in (None, {}) else ""
        kwargs: dict[str, Any] = {"dest": f.name, "default": argparse.SUPPRESS, "help": f.metadata["help"] + shown}
        if kind is bool:
            group.add_argument(flag, action=argparse.BooleanOptionalAction, **kwargs)
        elif kind is dict:
            group.add_argument(flag, action="append", metavar="KEY=VALUE", **kwargs)
        elif f.metadata.get("choices"):
            group.add_argument(flag, choices=f.metadata["choices"], **kwargs)
        else:
            group.add_argument(flag, type=_parse_as(f.name), metavar=f.name.upper(), **kwargs)
    group.add_argument("--no-grammar", dest="constrained", action="store_const", const="off",
                       default=argparse.SUPPRESS, help="do not constrain replies with a grammar (--constrained off)")
    group.add_argument("--set", dest="settings", action="append", default=[], metavar="KEY=VALUE",
                       help="any setting by its name, e.g. --set k=5 --set temperature=0.3")


def _parse_as(name: str) -> Any:
    def parse(text: str) -> Any:
        try:
            return coerce(name, text)
        except ConfigError as exc:
            raise argparse.ArgumentTypeError(str(exc).replace("--set ", "")) from None

    parse.__name__ = setting_type(name).__name__
    return parse


def overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The settings named on the command line (flags and ``--set``); the rest stay as they are."""
    given = vars(args)
    changes: dict[str, Any] = {}
    for item in given.get("settings") or []:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: use KEY=VALUE, e.g. --set k=5")
        key, value = item.split("=", 1)
        changes[key.strip()] = coerce(key.strip(), value.strip())
    for f in fields(WarpConfig):
        if f.name in given:
            value = given[f.name]
            changes[f.name] = parse_backend_options(value) if setting_type(f.name) is dict else value
    return changes
