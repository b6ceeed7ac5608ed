"""Command-line flags derived from config dataclasses, so no flag is written twice.

Each dataclass field becomes ``--field-name`` with its type, default and ``metadata["help"]``;
``Literal`` fields become choices, ``bool`` fields ``--x/--no-x``, ``list[...]`` fields take several values
(and with ``arg(..., repeat=True)`` the flag may also be repeated, each use adding to the list).
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from typing import Any, Literal, TypeVar

__all__ = ["add_config_arguments", "arg", "config_from_args", "parse_config"]

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


def add_config_arguments(parser: argparse.ArgumentParser, cls: type, *, skip: tuple[str, ...] = ()) -> None:
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.name in skip or not f.init:
            continue
        tp = _unwrap_optional(hints[f.name])
        flag = "--" + f.name.replace("_", "-")
        kwargs: dict[str, Any] = {"dest": f.name, "help": f.metadata.get("help", "")}
        if f.default is not dataclasses.MISSING:
            kwargs["default"] = f.default
        elif f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
            kwargs["default"] = f.default_factory()  # type: ignore[misc]
        else:
            kwargs["required"] = True
        origin = typing.get_origin(tp)
        if tp is bool:
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
        parser.add_argument(flag, **kwargs)


def config_from_args(cls: type[T], ns: argparse.Namespace) -> T:
    names = {f.name for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
    values = {k: v for k, v in vars(ns).items() if k in names}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if typing.get_origin(_unwrap_optional(typing.get_type_hints(cls)[f.name])) is tuple and values.get(f.name):
            values[f.name] = tuple(values[f.name])
    return cls(**values)


def parse_config(cls: type[T], argv: list[str] | None, *, prog: str, description: str) -> T:
    parser = argparse.ArgumentParser(prog=prog, description=description)
    add_config_arguments(parser, cls)
    return config_from_args(cls, parser.parse_args(argv))
