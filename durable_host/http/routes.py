"""Azure Functions HTTP route templates and the router that picks a function for a request.

Templates follow ASP.NET Core routing as the Functions host uses it: literal
segments (matched case-insensitively), `{name}`, optional `{name?}`, defaults
`{name=value}`, constraints `{id:int}` (`int`, `long`, `bool`, `double`,
`float`, `decimal`, `guid`, `alpha`, `datetime`, `min(n)`, `max(n)`,
`range(a,b)`, `minlength(n)`, `maxlength(n)`, `length(n)`, `regex(...)`,
chainable as `{id:int:min(1)}`) and a final catch-all `{*rest}`.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar
from urllib.parse import unquote

from durable_host.errors import ConfigurationError

__all__ = ["MethodNotAllowed", "RouteMatch", "RouteTemplate", "Router", "split_path"]

T = TypeVar("T")

_PARAM_RE = re.compile(r"\{(?P<body>[^{}]+)\}")
_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CONSTRAINT_RE = re.compile(r"(?P<name>[a-z]+)(?:\((?P<arg>.*)\))?", re.DOTALL)


def _is_int(text: str, bits: int) -> bool:
    if not re.fullmatch(r"[+-]?\d+", text):
        return False
    return -(1 << (bits - 1)) <= int(text) < 1 << (bits - 1)


def _is_float(text: str) -> bool:
    return re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", text) is not None


def _is_guid(text: str) -> bool:
    try:
        uuid.UUID(text.strip("{}()"))
    except ValueError:
        return False
    return True


def _is_datetime(text: str) -> bool:
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _int_arg(constraint: str, arg: str | None) -> int:
    if arg is None or not re.fullmatch(r"-?\d+", arg.strip()):
        raise ValueError(f"'{constraint}' needs an integer argument, as in {constraint}(5)")
    return int(arg)


def _make_constraint(spec: str) -> Callable[[str], bool]:
    match = _CONSTRAINT_RE.fullmatch(spec)
    if match is None:
        raise ValueError(f"unknown route constraint '{spec}'")
    name, arg = match["name"], match["arg"]
    simple: dict[str, Callable[[str], bool]] = {
        "int": lambda v: _is_int(v, 32),
        "long": lambda v: _is_int(v, 64),
        "bool": lambda v: v.lower() in ("true", "false"),
        "double": _is_float,
        "float": _is_float,
        "decimal": _is_float,
        "guid": _is_guid,
        "alpha": lambda v: re.fullmatch(r"[A-Za-z]+", v) is not None,
        "datetime": _is_datetime,
    }
    if name in simple and arg is None:
        return simple[name]
    if name == "regex" and arg is not None:
        pattern = re.compile(arg, re.IGNORECASE)
        return lambda v: pattern.search(v) is not None
    if name in ("min", "max"):
        bound = _int_arg(name, arg)
        if name == "min":
            return lambda v: _is_int(v, 64) and int(v) >= bound
        return lambda v: _is_int(v, 64) and int(v) <= bound
    if name == "range":
        parts = (arg or "").split(",")
        if len(parts) != 2:
            raise ValueError("'range' needs two integer arguments, as in range(1,10)")
        low, high = (_int_arg(name, p) for p in parts)
        return lambda v: _is_int(v, 64) and low <= int(v) <= high
    if name in ("minlength", "maxlength"):
        size = _int_arg(name, arg)
        if name == "minlength":
            return lambda v: len(v) >= size
        return lambda v: len(v) <= size
    if name == "length":
        parts = (arg or "").split(",")
        if len(parts) == 1:
            exact = _int_arg(name, parts[0])
            return lambda v: len(v) == exact
        low, high = (_int_arg(name, p) for p in parts)
        return lambda v: low <= len(v) <= high
    raise ValueError(f"unknown route constraint '{spec}'")


def _split_constraints(text: str) -> list[str]:
    """Split `int:min(1):regex(a:b)` on colons outside parentheses."""
    parts, depth, current = [], 0, ""
    for ch in text:
        if ch == ":" and depth == 0:
            parts.append(current)
            current = ""
            continue
        depth += ch == "("
        depth -= ch == ")"
        current += ch
    parts.append(current)
    return parts


@dataclass(frozen=True)
class _Segment:
    literal: str | None = None
    name: str | None = None
    optional: bool = False
    default: str | None = None
    catch_all: bool = False
    constraints: tuple[Callable[[str], bool], ...] = ()

    @property
    def rank(self) -> int:
        """Lower ranks win when two templates match (ASP.NET's route precedence)."""
        if self.literal is not None:
            return 0
        if self.catch_all:
            return 4
        if self.optional or self.default is not None:
            return 3
        return 1 if self.constraints else 2

    def accepts(self, value: str) -> bool:
        if self.literal is not None:
            return value.lower() == self.literal.lower()
        return all(check(value) for check in self.constraints)


def _parse_segment(text: str) -> _Segment:
    match = _PARAM_RE.fullmatch(text)
    if match is None:
        if "{" in text or "}" in text:
            raise ValueError(
                f"segment '{text}' mixes text and parameters; put each parameter in its own "
                "segment, e.g. 'files/{name}' rather than 'files/{name}.txt'"
            )
        return _Segment(literal=text)
    body = match["body"]
    catch_all = body.startswith("*")
    body = body.lstrip("*")
    default = None
    if "=" in body:
        body, default = body.split("=", 1)
    optional = body.endswith("?")
    body = body.rstrip("?")
    name, *constraint_specs = _split_constraints(body)
    if constraint_specs and constraint_specs[-1].endswith("?"):
        optional = True
        constraint_specs[-1] = constraint_specs[-1][:-1]
    if not _NAME_RE.fullmatch(name):
        raise ValueError(f"'{name}' is not a valid route parameter name")
    constraints = tuple(_make_constraint(spec) for spec in constraint_specs if spec)
    return _Segment(
        name=name,
        optional=optional,
        default=default,
        catch_all=catch_all,
        constraints=constraints,
    )


def split_path(raw_path: str) -> list[str]:
    """Split a raw URL path into percent-decoded segments (empty segments dropped)."""
    return [unquote(part) for part in raw_path.split("/") if part]


@dataclass(frozen=True)
class RouteTemplate:
    """A parsed route template such as `api/orders/{id:int}/{*rest}`."""

    text: str
    segments: tuple[_Segment, ...]

    @classmethod
    def parse(cls, text: str) -> RouteTemplate:
        parts = [p for p in text.strip().split("/") if p]
        try:
            segments = tuple(_parse_segment(p) for p in parts)
        except ValueError as exc:
            raise ConfigurationError(f"Invalid HTTP route template '{text}': {exc}.") from None
        names = [s.name for s in segments if s.name]
        if len(names) != len(set(n.lower() for n in names)):
            raise ConfigurationError(
                f"Invalid HTTP route template '{text}': a parameter name is used twice."
            )
        for index, segment in enumerate(segments):
            if segment.catch_all and index != len(segments) - 1:
                raise ConfigurationError(
                    f"Invalid HTTP route template '{text}': the catch-all parameter "
                    f"'{{*{segment.name}}}' must be the last segment."
                )
        return cls(text=text, segments=segments)

    @property
    def precedence(self) -> tuple[int, ...]:
        return tuple(s.rank for s in self.segments)

    def match(self, path_segments: list[str]) -> dict[str, str] | None:
        """Route values for the decoded path segments, or None if the template does not match."""
        values: dict[str, str] = {}
        for index, segment in enumerate(self.segments):
            if segment.catch_all:
                rest = "/".join(path_segments[index:])
                if rest and not segment.accepts(rest):
                    return None
                if rest or segment.default is not None:
                    values[segment.name or ""] = rest or (segment.default or "")
                return values
            if index >= len(path_segments):
                if segment.literal is not None or not (
                    segment.optional or segment.default is not None
                ):
                    return None
                if segment.default is not None:
                    values[segment.name or ""] = segment.default
                continue
            value = path_segments[index]
            if not segment.accepts(value):
                return None
            if segment.name is not None:
                values[segment.name] = value
        if len(path_segments) > len(self.segments):
            return None
        return values


@dataclass(frozen=True)
class RouteMatch(Generic[T]):
    target: T
    route_params: dict[str, str]


@dataclass(frozen=True)
class MethodNotAllowed:
    allowed: tuple[str, ...]


@dataclass(frozen=True)
class _Route(Generic[T]):
    template: RouteTemplate
    methods: frozenset[str] | None
    target: T


class Router(Generic[T]):
    """Maps (method, path) to a target: a match, 405 with the allowed methods, or None (404)."""

    def __init__(self) -> None:
        self._routes: list[_Route[T]] = []

    def add(self, template: str, methods: Iterable[str] | None, target: T) -> None:
        """Register `target`; `methods=None` (or empty) accepts every method."""
        method_set = frozenset(m.upper() for m in methods) if methods else None
        self._routes.append(_Route(RouteTemplate.parse(template), method_set, target))
        self._routes.sort(key=lambda r: r.template.precedence)

    def resolve(self, method: str, raw_path: str) -> RouteMatch[T] | MethodNotAllowed | None:
        segments = split_path(raw_path)
        allowed: set[str] = set()
        for route in self._routes:
            values = route.template.match(segments)
            if values is None:
                continue
            if route.methods is None or method.upper() in route.methods:
                return RouteMatch(route.target, values)
            allowed.update(route.methods)
        if allowed:
            return MethodNotAllowed(tuple(sorted(allowed)))
        return None
