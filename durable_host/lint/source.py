"""A function's source as the linter sees it: its AST node, its module's imports, its ignores.

Names are resolved the way Python would at run time: through the module's imports
(`from datetime import datetime as dt` makes `dt.now` mean `datetime.datetime.now`) and,
to follow calls into the app's own code, through the live module globals of the loaded app.
"""

from __future__ import annotations

import ast
import inspect
import io
import re
import tokenize
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef

_IGNORE = re.compile(r"#\s*durable:\s*ignore\[([A-Za-z0-9_,\s]+)\]")


@dataclass
class ModuleSource:
    path: Path
    module_name: str
    tree: ast.Module
    imports: dict[str, str]
    ignores: dict[int, set[str]]
    functions: dict[int, FunctionNode] = field(default_factory=dict)

    def function_at(self, first_line: int) -> FunctionNode | None:
        """The def whose first line (its first decorator's, if any) is `first_line`."""
        if not self.functions:
            for node in ast.walk(self.tree):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    lines = [node.lineno, *(d.lineno for d in node.decorator_list)]
                    self.functions[min(lines)] = node
        return self.functions.get(first_line)

    def ignored(self, line: int, rule_id: str) -> bool:
        return rule_id in self.ignores.get(line, ())


class SourceCache:
    def __init__(self) -> None:
        self._modules: dict[Path, ModuleSource | None] = {}

    def module(self, path: Path, module_name: str) -> ModuleSource | None:
        if path not in self._modules:
            self._modules[path] = _parse(path, module_name)
        return self._modules[path]

    def function(self, fn: Callable[..., Any]) -> tuple[ModuleSource, FunctionNode] | None:
        fn = inspect.unwrap(fn)
        code = getattr(fn, "__code__", None)
        if code is None:
            return None
        module = self.module(Path(code.co_filename).resolve(), getattr(fn, "__module__", ""))
        if module is None:
            return None
        node = module.function_at(code.co_firstlineno)
        return None if node is None else (module, node)


def _parse(path: Path, module_name: str) -> ModuleSource | None:
    try:
        text = path.read_text(encoding="utf-8")
        tree = ast.parse(text, filename=str(path))
    except (OSError, SyntaxError, ValueError):
        return None
    return ModuleSource(path, module_name, tree, _imports(tree, module_name), _ignores(text))


def _imports(tree: ast.Module, module_name: str) -> dict[str, str]:
    """Local name -> fully qualified name, for every import in the module."""
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    names[alias.asname] = alias.name
                else:
                    head = alias.name.split(".")[0]
                    names[head] = head
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module_name.split(".")[: -node.level]
                base = ".".join([*package, base] if base else package)
            for alias in node.names:
                names[alias.asname or alias.name] = f"{base}.{alias.name}" if base else alias.name
    return names


def _ignores(text: str) -> dict[int, set[str]]:
    """Line -> rule ids of its `# durable: ignore[RULE, ...]` comment."""
    found: dict[int, set[str]] = {}
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type == tokenize.COMMENT:
                match = _IGNORE.search(token.string)
                if match:
                    ids = {part.strip().upper() for part in match.group(1).split(",")}
                    found.setdefault(token.start[0], set()).update(ids - {""})
    except (tokenize.TokenError, SyntaxError):
        pass
    return found


def dotted(node: ast.expr) -> list[str] | None:
    """`a.b.c` -> ["a", "b", "c"]; None for anything that is not a plain name chain."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return parts[::-1]


def local_names(fn: FunctionNode) -> set[str]:
    """Names bound inside the function (parameters, assignments, loop and with targets),
    minus those declared `global`. Imports are left to the module's import table."""
    bound: set[str] = set()
    declared_global: set[str] = set()
    args = fn.args
    for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]:
        if arg is not None:
            bound.add(arg.arg)
    for node in ast.walk(fn):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            bound.add(node.id)
        elif isinstance(node, ast.Global):
            declared_global.update(node.names)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    return bound - declared_global


def global_names(fn: FunctionNode) -> set[str]:
    return {name for node in ast.walk(fn) if isinstance(node, ast.Global) for name in node.names}
