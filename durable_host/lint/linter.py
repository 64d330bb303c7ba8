"""Lint an app: load it as the host does, then check every orchestrator and entity and
the app functions they call."""

from __future__ import annotations

import ast
import dataclasses
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from durable_host.errors import AppLoadError
from durable_host.functions.app_files import AppFiles
from durable_host.functions.function_index import DurableProtocol, FunctionIndex
from durable_host.functions.loader import load_app
from durable_host.lint import rules
from durable_host.lint.checks import FunctionCheck
from durable_host.lint.from_source import find_functions, module_namespace, source_index
from durable_host.lint.rules import Finding, Role
from durable_host.lint.source import FunctionNode, ModuleSource, SourceCache


@dataclass(frozen=True)
class LintResult:
    app_dir: Path
    findings: list[Finding]
    orchestrators: int
    entities: int
    functions_checked: int
    # Why the app was checked from its source alone, and what that leaves unchecked.
    note: str | None = None


@dataclass(frozen=True)
class _Visit:
    function: Callable[..., Any] | None
    role: Role
    where: str
    check_yields: bool


class _Linter:
    def __init__(
        self, root: Path, index: FunctionIndex, sources: SourceCache | None = None
    ) -> None:
        self.root = root
        self.index = index
        self.files = AppFiles(root)
        self.sources = sources or SourceCache()
        self.findings: list[Finding] = []
        self.seen: set[tuple[Any, Role]] = set()

    def is_app_function(self, target: Any) -> bool:
        code = getattr(target, "__code__", None)
        return code is not None and self.files.contains(code.co_filename)

    def lint_root(
        self, function: Callable[..., Any], role: Role, where: str, *, plain_ok: bool = False
    ) -> None:
        """`plain_ok`: an orchestrator may return without yielding (durabletask, 2.x, runs
        one; 1.x cannot)."""
        queue = deque([_Visit(function, role, where, check_yields=True)])
        while queue:
            visit = queue.popleft()
            key = (getattr(visit.function, "__code__", visit.function), visit.role)
            if key in self.seen:
                continue
            self.seen.add(key)
            found = None if visit.function is None else self.sources.function(visit.function)
            if found is None:
                continue
            module, node = found
            namespace = getattr(visit.function, "__globals__", {})
            is_root = visit.function is function
            check = self.check(module, node, namespace, visit, is_root=is_root, plain_ok=plain_ok)
            for callee in check.callees:
                queue.append(
                    _Visit(
                        callee.function,
                        role,
                        f"in {callee.function.__name__}(), reached from {where}",
                        callee.yields_checked,
                    )
                )

    def check(
        self,
        module: ModuleSource,
        node: FunctionNode,
        namespace: dict[str, Any],
        visit: _Visit,
        *,
        is_root: bool,
        plain_ok: bool = False,
    ) -> FunctionCheck:
        if is_root and visit.role is Role.ORCHESTRATOR:
            self.check_shape(module, node, visit.where, plain_ok)
        check = FunctionCheck(
            module,
            node,
            namespace,
            role=visit.role,
            where=visit.where,
            index=self.index,
            is_app_function=self.is_app_function,
            check_yields=visit.check_yields,
        ).run()
        self.add(check.findings)
        return check

    def check_shape(
        self, module: ModuleSource, node: FunctionNode, where: str, plain_ok: bool
    ) -> None:
        rule = None
        if isinstance(node, ast.AsyncFunctionDef):
            rule = rules.ASYNC_ORCHESTRATOR
        elif not _is_generator(node) and not plain_ok:
            rule = rules.NOT_A_GENERATOR
        if rule is not None and not module.ignored(node.lineno, rule.id):
            message = f"`{node.name}` {rule.summary} ({where})"
            self.add([Finding(str(module.path), node.lineno, node.col_offset + 1, rule, message)])

    def add(self, findings: list[Finding]) -> None:
        self.findings.extend(
            dataclasses.replace(f, path=self.files.relative(f.path)) for f in findings
        )


def _is_generator(node: FunctionNode) -> bool:
    """Whether the def itself yields (yields of nested functions and lambdas do not count)."""
    pending: list[ast.AST] = list(node.body)
    while pending:
        current = pending.pop()
        if isinstance(current, (ast.Yield, ast.YieldFrom)):
            return True
        if not isinstance(current, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            pending.extend(ast.iter_child_nodes(current))
    return False


def lint_app(app_dir: Path | str = ".") -> LintResult:
    """Check the app in `app_dir`; raises AppLoadError when it cannot be loaded for another
    reason than a missing import (then its functions are found from the source)."""
    root = Path(app_dir).resolve()
    try:
        index = load_app(root)
    except AppLoadError as exc:
        if not isinstance(exc.__cause__, ImportError):
            raise
        return _lint_source(root, exc.__cause__)
    linter = _Linter(root, index)
    for name, fn in sorted(index.orchestrators.items()):
        user = getattr(fn.user_function, "orchestrator_function", fn.user_function)
        plain_ok = fn.protocol is DurableProtocol.PROTOBUF
        linter.lint_root(user, Role.ORCHESTRATOR, f"orchestrator '{name}'", plain_ok=plain_ok)
    for name, fn in sorted(index.entities.items()):
        user = getattr(fn.user_function, "entity_function", fn.user_function)
        linter.lint_root(user, Role.ENTITY, f"entity '{name}'")
    return _result(linter)


def _result(linter: _Linter, note: str | None = None) -> LintResult:
    unique = {(f.path, f.line, f.column, f.rule.id): f for f in linter.findings}
    ordered = sorted(unique.values(), key=lambda f: (f.path, f.line, f.column, f.rule.id))
    index = linter.index
    return LintResult(
        linter.root,
        ordered,
        len(index.orchestrators),
        len(index.entities),
        len(linter.seen),
        note,
    )


def _lint_source(root: Path, failure: ImportError) -> LintResult:
    """Lint the orchestrators and entities found from the source (from_source.py)."""
    sources = SourceCache()
    functions = find_functions(root, sources)
    linter = _Linter(root, source_index(root, functions), sources)
    for fn in functions:
        if fn.role is None or fn.module is None or fn.node is None:
            continue
        linter.seen.add((fn.node, fn.role))
        visit = _Visit(None, fn.role, f"{fn.role.value} '{fn.name}'", check_yields=True)
        linter.check(fn.module, fn.node, module_namespace(fn.module), visit, is_root=True)
    note = (
        f"The app could not be imported ({type(failure).__name__}: {failure}): its "
        "orchestrators and entities were found from the source and checked alone; calls "
        "into other app functions were not followed. Install the app's requirements for "
        "the full check."
    )
    return _result(linter, note)
