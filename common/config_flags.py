"""absl flags derived from a frozen dataclass config, and the one step that applies them.

    DVBPR_FLAGS = config_flags.define_flags(
        DVBPRConfig, ("epochs", "batch_size", "strategy"), enums={"strategy": STRATEGIES}
    )
    ...
    config = config_flags.resolve(get_preset(name), DVBPR_FLAGS.values())

A binary names the fields it lets the command line override; each becomes
a flag of the field's name (or `flag_names[field]`) whose

- type is the field's annotation: int, float, bool, str (an enum when
  `enums` lists its values), `X | None` as X, and `tuple[X, ...]` as a
  comma-separated list of X;
- help is the field's entry in the class docstring's "Attributes:" section
  (or `help[field]`), followed by "(the preset's if unset)" when the flag
  has no default (`unset_help`);
- default is None, "the preset's", unless `defaults` gives one.

`ConfigFlags.values()` returns the flags the user set (on the command line
or by assignment to FLAGS), and `resolve` applies such a mapping to a
preset: a flag left unset never changes a config, whatever its default.

absl refuses a flag defined twice in one process, and binaries (and tests
that import several of them) share one: each flag is defined once, at the
import of the one module that owns it (a binary, or a shared flags module
such as `design/flags.py`).
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import sys
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from absl import flags

C = TypeVar("C")

# Help suffix of a flag whose default is None: the preset decides.
UNSET_HELP = "(the preset's if unset)"


class _TupleParser(flags.ArgumentParser):
    """Parses "a,b,c" (or a list / tuple) into a tuple of `element` values."""

    def __init__(self, element: type):
        self.element = element
        # --help's line under the flag: a list of str is what absl's DEFINE_list takes,
        # so it reads as one.
        self.syntactic_help = "a comma separated list" if element is str else ""

    def parse(self, argument):
        items = argument
        if isinstance(argument, str):
            items = [a.strip() for a in argument.split(",")] if argument.strip() else []
        try:
            return tuple(self.element(a) for a in items)
        except ValueError as err:
            raise ValueError(
                f"expected a comma-separated list of {self.element.__name__} values, "
                f"got {argument!r}"
            ) from err

    def flag_type(self) -> str:
        return f"comma-separated list of {self.element.__name__}"


def docstring_attributes(cls: type) -> dict[str, str]:
    """The entries of a class docstring's "Attributes:" section, one line each.

    Args:
      cls: a class with a Google-style docstring.

    Returns:
      {attribute name: its description with whitespace collapsed}.
    """
    doc = inspect.getdoc(cls) or ""
    entries: dict[str, str] = {}
    lines = doc.splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == "Attributes:")
    except StopIteration:
        return entries
    name, entry_indent = None, None
    for line in lines[start + 1 :]:
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        if indent == 0:  # the next section (or the docstring's end)
            break
        match = re.match(r"\s*(\w+)(?: \([^)]*\))?: (.*)", line)
        if match and (entry_indent is None or indent <= entry_indent):
            entry_indent = indent
            name = match.group(1)
            entries[name] = match.group(2).strip()
        elif name is not None:
            entries[name] += " " + line.strip()
    return entries


def _flag_type(annotation: Any) -> tuple[type, type | None]:
    """(scalar type, tuple element type or None) of a field annotation."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        kinds = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(kinds) != 1:
            raise TypeError(f"no flag type for the union {annotation}")
        annotation = kinds[0]
    if typing.get_origin(annotation) is tuple:
        args = typing.get_args(annotation)
        if len(args) == 2 and args[1] is Ellipsis and args[0] in (int, float, str):
            return tuple, args[0]
        raise TypeError(f"no flag type for {annotation} (only tuple[int|float|str, ...])")
    if annotation in (int, float, bool, str):
        return annotation, None
    raise TypeError(f"no flag type for {annotation}")


def _caller_module_name() -> str:
    """The module that called into this one, named as absl names it (main: argv[0])."""
    frame = sys._getframe(1)
    while frame.f_globals.get("__name__") == __name__:
        frame = frame.f_back
    name = frame.f_globals["__name__"]
    return sys.argv[0] if name == "__main__" else name


def _help_text(text: str, default: Any, unset_help: str | None) -> str:
    text = text.strip()
    if not text.endswith("."):
        text += "."
    return f"{text} {unset_help}" if default is None and unset_help else text


@dataclasses.dataclass(frozen=True)
class ConfigFlags:
    """The absl flags of some fields of a config class (made by `define_flags`).

    Attributes:
      config_class: the frozen dataclass the flags override.
      flag_names: {field name: flag name}.
      flag_values: the FlagValues they live in.
    """

    config_class: type
    flag_names: Mapping[str, str]
    flag_values: flags.FlagValues

    def values(self, fields: Iterable[str] | None = None) -> dict[str, Any]:
        """{field: value} of the flags the user set, of `fields` (default: all)."""
        names = self.flag_names if fields is None else {f: self.flag_names[f] for f in fields}
        return {
            field: self.flag_values[flag].value
            for field, flag in names.items()
            if not self.flag_values[flag].using_default_value
        }


def define_flags(
    config_class: type,
    fields: Iterable[str],
    *,
    defaults: Mapping[str, Any] | Any = None,
    help: Mapping[str, str] | None = None,  # noqa: A002  (absl's own keyword)
    enums: Mapping[str, Iterable[str]] | None = None,
    flag_names: Mapping[str, str] | None = None,
    unset_help: str | None = UNSET_HELP,
    flag_values: flags.FlagValues = flags.FLAGS,
) -> ConfigFlags:
    """Defines one absl flag per named field of a frozen dataclass.

    Args:
      config_class: the dataclass whose fields the flags override.
      fields: the field names to define flags for.
      defaults: {field: flag default}, unnamed fields defaulting to None
        (the preset's value); or an instance of `config_class`, whose values
        are the defaults of every flag.
      help: {field: help text} replacing the docstring's entry.
      enums: {field: allowed values} for str fields that take a fixed set.
      flag_names: {field: flag name} where the flag is not named as its field.
      unset_help: appended to the help of flags whose default is None (None:
        nothing; for configs without presets).
      flag_values: where to define them (absl's global FLAGS by default).

    Returns:
      A `ConfigFlags` over the new flags.

    Raises:
      ValueError: a name in `fields`, `defaults`, `help`, `enums` or
        `flag_names` is no field of `config_class`, or a field has no help.
      TypeError: a field's annotation has no flag type.
      absl.flags.DuplicateFlagError: a flag of that name exists already.
    """
    fields = tuple(fields)
    known = {f.name for f in dataclasses.fields(config_class)}
    if isinstance(defaults, config_class):
        defaults = {f: getattr(defaults, f) for f in fields}
    defaults, help, enums = dict(defaults or {}), dict(help or {}), dict(enums or {})
    renamed = dict(flag_names or {})
    for what, names in (
        ("fields", fields),
        ("defaults", defaults),
        ("help", help),
        ("enums", enums),
        ("flag_names", renamed),
    ):
        unknown = sorted(set(names) - known)
        if unknown:
            raise ValueError(
                f"define_flags({config_class.__name__}, {what}=...): {', '.join(unknown)} "
                f"is no field of {config_class.__name__}."
            )
        if what != "fields" and set(names) - set(fields):
            raise ValueError(f"define_flags: {what} names fields without a flag.")
    hints = typing.get_type_hints(config_class)
    docs = docstring_attributes(config_class)
    # The flags belong to the caller (for --help's list of the main module's
    # flags), not to this module.
    module_name = _caller_module_name()
    for field in fields:
        name = renamed.get(field, field)
        default = defaults.get(field)
        if field not in help and field not in docs:
            raise ValueError(
                f"{config_class.__name__}.{field} has no entry in the class docstring's "
                "Attributes: section; document it or pass help=."
            )
        text = _help_text(help.get(field, docs.get(field, "")), default, unset_help)
        kind, element = _flag_type(hints[field])
        if field in enums:
            if kind is not str:
                raise TypeError(f"{config_class.__name__}.{field}: enums need a str field.")
            flags.DEFINE_enum(
                name,
                default,
                list(enums[field]),
                text,
                flag_values=flag_values,
                module_name=module_name,
            )
        elif kind is tuple:
            flags.DEFINE(
                _TupleParser(element),
                name,
                default,
                text,
                flag_values=flag_values,
                serializer=flags.CsvListSerializer(","),
                module_name=module_name,
            )
        else:
            define = {
                int: flags.DEFINE_integer,
                float: flags.DEFINE_float,
                bool: flags.DEFINE_bool,
                str: flags.DEFINE_string,
            }[kind]
            define(name, default, text, flag_values=flag_values, module_name=module_name)
    return ConfigFlags(
        config_class, {f: renamed.get(f, f) for f in fields}, flag_values=flag_values
    )


def resolve(config: C, overrides: Mapping[str, Any]) -> C:
    """`config` with `overrides` applied, validated by the class's `__post_init__`.

    The one step from a preset and what the user set to the config a run
    uses: binaries pass `ConfigFlags.values()` (only the flags the user
    set), libraries a mapping of their own.

    Args:
      config: a frozen dataclass instance (a preset).
      overrides: {field name: value}; every value is applied, None included.

    Returns:
      A new config, or `config` itself when there is nothing to apply.

    Raises:
      ValueError: a key is no field of the config (the message names it), or
        the class rejects a value.
    """
    known = {f.name for f in dataclasses.fields(config)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ValueError(
            f"{type(config).__name__} has no field {', '.join(unknown)}; "
            f"its fields: {', '.join(sorted(known))}."
        )
    return dataclasses.replace(config, **overrides) if overrides else config
