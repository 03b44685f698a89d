"""Config dataclasses describe themselves: their choices come from their Literal types, their
--help from the comment after each field, their command-line flags from both. So each option of
the Gatys engine, the feed-forward network and a CycleGAN training run is written once, in its
dataclass, and the CLI, the training script, the app and validation all read it from there."""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import re
from typing import Literal, get_args, get_origin, get_type_hints


def literal_choices(cls) -> dict[str, tuple[str, ...]]:
    """{field name: allowed values} of every field of a config class typed as a Literal."""
    return {name: get_args(hint) for name, hint in get_type_hints(cls).items() if get_origin(hint) is Literal}


def check_choices(config) -> None:
    """Raise ValueError, in one sentence, for the first field whose value is not among its choices."""
    for name, allowed in literal_choices(type(config)).items():
        if getattr(config, name) not in allowed:
            raise ValueError(f"{name} must be one of {', '.join(allowed)}; got {getattr(config, name)!r}")


def field_help(cls) -> dict[str, str]:
    """{field: the comment after it in the class body}: a config's comments are its --help."""
    comments, pending = {}, None
    for line in inspect.getsource(cls).splitlines():
        match = re.match(r"\s+(\w+): [^#]*?(?:#\s*(.*))?$", line)
        if match and match.group(1) in {f.name for f in dataclasses.fields(cls)}:
            pending = match.group(1)
            comments[pending] = match.group(2) or ""
        elif pending and re.match(r"\s+#\s*(.*)$", line):  # a comment continued on the next line
            comments[pending] += " " + re.match(r"\s+#\s*(.*)$", line).group(1)
    return comments


def add_dataclass_flags(parser, cls, *, overrides_only: bool = False, shown_defaults: dict | None = None) -> None:
    """Every field of the config dataclass `cls` as --its-name: help from its comment, choices
    from its Literal type, a bool as a switch, a field without a default as a required flag, a
    tuple as one comma-separated value (the dataclass splits it).

    With `overrides_only`, every flag defaults to None, so only flags given override a preset
    (`given_fields`). `shown_defaults` replaces a default in the help text (one read from the
    environment, say)."""
    hints, helps = get_type_hints(cls), field_help(cls)
    for field in dataclasses.fields(cls):
        hint, flag = hints[field.name], f"--{field.name.replace('_', '-')}"
        default = _default(field)
        shown = (shown_defaults or {}).get(field.name, ",".join(map(str, default)) if isinstance(default, tuple) else default)
        help_text = helps[field.name] + ("" if default in (dataclasses.MISSING, None, ()) or hint is bool else f" (default: {shown})")
        if hint is bool:
            parser.add_argument(flag, dest=field.name, action="store_true", default=None if overrides_only else default,
                                help=help_text)  # fmt: skip
            continue
        number = next((t for t in (hint, *get_args(hint)) if t in (int, float)), None)  # int, float or float | None
        parser.add_argument(flag, dest=field.name, type=number or str, required=default is dataclasses.MISSING,
                            default=None if overrides_only or default is dataclasses.MISSING else default,
                            choices=get_args(hint) if get_origin(hint) is Literal else None, help=help_text)  # fmt: skip


def given_fields(cls, args: argparse.Namespace) -> dict:
    """{field: value} of the fields of the config dataclass `cls` whose flags were given (not None)."""
    return {f.name: getattr(args, f.name) for f in dataclasses.fields(cls) if getattr(args, f.name, None) is not None}


def flag_names(message: str, *classes, only: tuple[str, ...] | None = None) -> str:
    """A config's error message as the command line says it: each field name of `classes` (or
    just those in `only`) that appears in it becomes its flag ("size must be ..." -> "--size must be ...")."""
    for cls in classes:
        for field in dataclasses.fields(cls):
            if only is not None and field.name not in only:
                continue
            message = re.sub(rf"(?<![\w-]){field.name}(?![\w-])", f"--{field.name.replace('_', '-')}", message)
    return message


def _default(field: dataclasses.Field):
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return field.default
