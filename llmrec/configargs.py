"""Command-line flags derived from config dataclasses, so no flag is written twice.

Each dataclass field becomes ``--field-name`` with its type, default and ``metadata["help"]``;
``Literal`` fields become choices, ``bool`` fields ``--x/--no-x``, ``list[...]`` fields take several values
(and with ``arg(..., repeat=True)`` the flag may also be repeated, each use adding to the list).

A field whose type is itself a dataclass is a *group*: its fields are flattened into flags of their own
(no prefix: ``TrainingConfig.lr`` is ``--lr``), listed under a help section named after the field, and
:func:`config_from_args` rebuilds the nested dataclass.  Two groups may not define the same flag; that is
refused when the parser is built.  :func:`config_values` is the inverse view: the values by flag, flattened.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import sys
import types
import typing
from collections.abc import Callable
from typing import Any, Literal, TypeVar

__all__ = ["add_config_arguments", "arg", "config_from_args", "config_values", "parse_config", "run_main"]

T = TypeVar("T")


def arg(default: Any = dataclasses.MISSING, *, help: str, repeat: bool = False, **kwargs: Any) -> Any:
    """A dataclass field with help text (``default_factory`` may be passed for mutable defaults).

    ``repeat``: a list flag that may be given several times (its default should be empty, as uses add to it).
    """
    if default is not dataclasses.MISSING:
        kwargs["default"] = default
    return dataclasses.field(metadata={"help": help, "repeat": repeat}, **kwargs)


def _unwrap_optional(tp: Any) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return tp


def _is_group(tp: Any) -> bool:
    """Whether a field of type ``tp`` is a group of flags (a dataclass), rather than one flag."""
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def _default(f: dataclasses.Field, defaults: Any = None) -> Any:
    """The field's default: its value in ``defaults`` (an instance of its class) when given, else its own."""
    if defaults is not None:
        return getattr(defaults, f.name)
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        return f.default_factory()  # type: ignore[misc]
    return dataclasses.MISSING


def _flag_owners(cls: type, skip: tuple[str, ...]) -> dict[str, str]:
    """Each flag's field name -> the field defining it (``TrainingConfig.lr``); refuses a name defined
    twice."""
    owners: dict[str, str] = {}
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.name in skip or not f.init:
            continue
        here = {f.name: f"{cls.__name__}.{f.name}"}
        if _is_group(hints[f.name]):
            here = _flag_owners(hints[f.name], skip)
        for name, owner in here.items():
            if name in owners:
                raise TypeError(f"flag --{name.replace('_', '-')} is defined twice, by {owners[name]} and "
                                f"{owner}: the fields of flattened groups need distinct names")
            owners[name] = owner
    return owners


def add_config_arguments(parser: argparse.ArgumentParser, cls: type, *, skip: tuple[str, ...] = ()) -> None:
    """Add a flag to ``parser`` for each field of ``cls`` not in ``skip`` (groups flattened, see above)."""
    _flag_owners(cls, skip)
    _add_arguments(parser, parser, cls, skip, None)


def _add_arguments(parser: argparse.ArgumentParser, container: Any, cls: type, skip: tuple[str, ...],
                   defaults: Any) -> None:
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.name in skip or not f.init:
            continue
        if _is_group(hints[f.name]):  # argparse sections do not nest: every group is a section of the parser
            group_default = _default(f, defaults)
            section = parser.add_argument_group(f.name, f.metadata.get("help"))
            _add_arguments(parser, section, hints[f.name], skip,
                           None if group_default is dataclasses.MISSING else group_default)
            continue
        tp = _unwrap_optional(hints[f.name])
        flag = "--" + f.name.replace("_", "-")
        kwargs: dict[str, Any] = {"dest": f.name, "help": f.metadata.get("help", "")}
        default = _default(f, defaults)
        if default is not dataclasses.MISSING:
            kwargs["default"] = default
        else:
            kwargs["required"] = True
        origin = typing.get_origin(tp)
        if tp is bool and f.name.startswith("no_"):  # BooleanOptionalAction reads "--no-x" as False
            kwargs["action"] = "store_true"
        elif tp is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        elif origin is Literal:
            kwargs["choices"] = list(typing.get_args(tp))
            kwargs["type"] = type(kwargs["choices"][0])
        elif origin in (list, tuple):
            inner = _unwrap_optional(typing.get_args(tp)[0])
            kwargs["nargs"] = "+" if origin is list else len(typing.get_args(tp))
            if typing.get_origin(inner) is Literal:  # list[Literal[...]]: each value one of the choices
                kwargs["choices"] = list(typing.get_args(inner))
                inner = type(kwargs["choices"][0])
            kwargs["type"] = inner
            if f.metadata.get("repeat"):
                kwargs["action"] = "extend"
        else:
            kwargs["type"] = tp
        if "default" in kwargs and kwargs["default"] is not None and tp is not bool:
            kwargs["help"] += f" (default: {kwargs['default']})"
        container.add_argument(flag, **kwargs)


def config_from_args(cls: type[T], ns: argparse.Namespace) -> T:
    """The ``cls`` the parsed flags describe, its groups rebuilt (a group's flags left out keep its
    default)."""
    return _from_args(cls, vars(ns), None)


def _from_args(cls: type[T], given: dict[str, Any], defaults: Any) -> T:
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if not f.init:
            continue
        if _is_group(hints[f.name]):
            group_default = _default(f, defaults)
            values[f.name] = _from_args(hints[f.name], given,
                                        None if group_default is dataclasses.MISSING else group_default)
        elif f.name in given:
            values[f.name] = given[f.name]
            if typing.get_origin(_unwrap_optional(hints[f.name])) is tuple and values[f.name]:
                values[f.name] = tuple(values[f.name])
    if defaults is not None:
        return dataclasses.replace(defaults, **values)
    return cls(**values)


def config_values(cfg: Any) -> dict[str, Any]:
    """``cfg``'s values by field name, the groups flattened (the flags' values, as ``dataclasses.asdict``
    copies them)."""
    hints = typing.get_type_hints(type(cfg))
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cfg):
        if not f.init:
            continue
        value = getattr(cfg, f.name)
        if _is_group(hints[f.name]):
            values.update(config_values(value))
        else:
            values[f.name] = copy.deepcopy(value)
    return values


def parse_config(cls: type[T], argv: list[str] | None, *, prog: str, description: str) -> T:
    parser = argparse.ArgumentParser(prog=prog, description=description)
    add_config_arguments(parser, cls)
    return config_from_args(cls, parser.parse_args(argv))


def run_main(main: Callable[[], int], *, prog: str) -> int:
    """Run a command's ``main`` as its ``__main__`` does: an error llmrec raises on purpose (a bad setting, a
    missing or mismatched artifact: :class:`~llmrec.errors.LLMRecError`) or a setting its config model refuses
    (pydantic's ``ValidationError``) is printed as ``prog: error: ...`` and the exit status is 2, as argparse
    does for a bad flag, instead of a traceback.  Anything else is a bug and keeps its traceback."""
    from pydantic import ValidationError

    from llmrec.errors import LLMRecError

    try:
        return main()
    except (LLMRecError, ValidationError) as err:
        text = "\n".join(line for line in str(err).splitlines() if "errors.pydantic.dev" not in line)
        print(f"{prog}: error: {text}", file=sys.stderr)
        return 2
