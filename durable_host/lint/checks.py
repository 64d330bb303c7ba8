"""The checks of one function body, for the role it plays (orchestrator or entity code).

A `FunctionCheck` walks the body once: calls are matched against the rule tables, names
of durable functions against the app's index, stores against module-level state, yields
against durable tasks; calls into the app's own functions are handed back to be followed.
"""

from __future__ import annotations

import ast
import builtins
import difflib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from durable_host.functions.function_index import DurableKind, FunctionIndex
from durable_host.lint import rules
from durable_host.lint.rules import Finding, Role, Rule
from durable_host.lint.source import FunctionNode, ModuleSource, dotted, global_names, local_names

# context.<method>(NAME, ...) -> the kind NAME must be.
NAMED_CALLS = {
    "call_activity": DurableKind.ACTIVITY,
    "call_activity_with_retry": DurableKind.ACTIVITY,
    "call_sub_orchestrator": DurableKind.ORCHESTRATOR,
    "call_sub_orchestrator_with_retry": DurableKind.ORCHESTRATOR,
    "call_entity": DurableKind.ENTITY,
    "signal_entity": DurableKind.ENTITY,
}
_CALL_FOR_KIND = {
    DurableKind.ACTIVITY: "call_activity",
    DurableKind.ORCHESTRATOR: "call_sub_orchestrator",
    DurableKind.ENTITY: "call_entity / signal_entity",
}
# Context methods whose result is not a durable task: yielding it waits on nothing.
NOT_TASKS = frozenset(
    {"get_input", "set_custom_status", "continue_as_new", "new_uuid", "new_guid", "signal_entity"}
)
_NOT_TASK_NODES = (
    ast.Constant,
    ast.List,
    ast.Tuple,
    ast.Dict,
    ast.Set,
    ast.ListComp,
    ast.SetComp,
    ast.DictComp,
    ast.GeneratorExp,
    ast.JoinedStr,
    ast.BinOp,
    ast.Compare,
    ast.UnaryOp,
    ast.Lambda,
)
_MUTATORS = frozenset(
    {
        *("append", "extend", "insert", "remove", "pop", "clear", "update"),
        *("setdefault", "add", "discard", "popitem", "sort", "reverse"),
    }
)
_MUTABLE = (list, dict, set, bytearray)


@dataclass(frozen=True)
class Callee:
    """An app function called from checked code, to be checked in the same role."""

    function: Callable[..., Any]
    yields_checked: bool


class FunctionCheck:
    def __init__(
        self,
        module: ModuleSource,
        node: FunctionNode,
        namespace: dict[str, Any],
        *,
        role: Role,
        where: str,
        index: FunctionIndex,
        is_app_function: Callable[[Any], bool],
        check_yields: bool,
    ) -> None:
        self.module = module
        self.node = node
        self.namespace = namespace
        self.role = role
        self.where = where
        self.index = index
        self.is_app_function = is_app_function
        self.check_yields = check_yields
        self.locals = local_names(node)
        self.declared_global = global_names(node)
        self.entity_ids: dict[str, ast.Call] = {}
        self.findings: list[Finding] = []
        self.callees: list[Callee] = []

    # -- walking -----------------------------------------------------------------------------

    def run(self) -> FunctionCheck:
        yield_from_calls: set[int] = set()
        for statement in self.node.body:
            for node in ast.walk(statement):
                if isinstance(node, ast.YieldFrom) and isinstance(node.value, ast.Call):
                    yield_from_calls.add(id(node.value))
                self.visit(node, yield_from_calls)
        return self

    def visit(self, node: ast.AST, yield_from_calls: set[int]) -> None:
        if isinstance(node, ast.Call):
            self.check_call(node, followed_by_yield_from=id(node) in yield_from_calls)
        elif isinstance(node, (ast.Attribute, ast.Name)) and isinstance(node.ctx, ast.Load):
            self.check_environment(node)
        elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
            self.check_store(node)
        elif isinstance(node, ast.Yield) and self.check_yields and self.role is Role.ORCHESTRATOR:
            self.check_yield(node)

    def report(self, node: ast.AST, rule: Rule, subject: str, *, text: str | None = None) -> None:
        """`subject` + the rule's summary, or `text` when the rule needs its own words."""
        line, column = getattr(node, "lineno", 1), getattr(node, "col_offset", 0) + 1
        if self.module.ignored(line, rule.id):
            return
        message = f"{text or subject + ' ' + rule.summary} ({self.where})"
        self.findings.append(Finding(self.module.path.as_posix(), line, column, rule, message))

    # -- names ------------------------------------------------------------------------------------

    def qualify(self, parts: list[str]) -> str | None:
        head = parts[0]
        if head in self.locals:
            return None
        base = self.module.imports.get(head)
        if base is None:
            if head in self.namespace:
                return None  # a module-level name of the app (even one shadowing a builtin)
            base = head
        return ".".join([base, *parts[1:]])

    def resolve(self, parts: list[str]) -> Any:
        """The live object a name chain refers to (module globals, then builtins), or None."""
        if parts[0] in self.locals:
            return None
        missing = object()
        value = self.namespace.get(parts[0], getattr(builtins, parts[0], missing))
        for part in parts[1:]:
            if value is missing:
                break
            value = inspect.getattr_static(value, part, missing)
        return None if value is missing else value

    # -- the checks -----------------------------------------------------------------------------

    def check_call(self, call: ast.Call, *, followed_by_yield_from: bool) -> None:
        parts = dotted(call.func)
        if parts is None:
            return
        qualified = self.qualify(parts)
        has_args = bool(call.args or call.keywords)
        rule = rules.rule_for_call(qualified, has_args) if qualified else None
        if rule is not None:
            if self.role is Role.ENTITY:
                rule = rules.ENTITY_IO if rule is rules.IO else None
            if rule is not None:
                self.report(call, rule, f"`{ast.unparse(call.func)}()`")
        if self.role is Role.ORCHESTRATOR and len(parts) > 1 and parts[-1] in NAMED_CALLS:
            self.check_durable_name(call, parts[-1])
        if self.role is Role.ORCHESTRATOR and self.mutates_module_state(parts):
            self.report(call, rules.GLOBAL_STATE, f"`{ast.unparse(call.func)}()`")
        target = self.resolve(parts)
        if inspect.isfunction(target) and self.is_app_function(target):
            self.callees.append(Callee(target, followed_by_yield_from))

    def mutates_module_state(self, parts: list[str]) -> bool:
        """`CACHE.append(...)` where CACHE is a module-level list, dict, set or bytearray."""
        return (
            len(parts) == 2
            and parts[1] in _MUTATORS
            and parts[0] not in self.locals
            and isinstance(self.namespace.get(parts[0]), _MUTABLE)
        )

    def check_environment(self, node: ast.Attribute | ast.Name) -> None:
        if self.role is not Role.ORCHESTRATOR:
            return
        parts = dotted(node)
        if parts and self.qualify(parts) in rules.ENVIRONMENT_NAMES:
            self.report(node, rules.ENVIRONMENT, f"`{ast.unparse(node)}`")

    def check_store(self, node: ast.Assign | ast.AugAssign | ast.AnnAssign | ast.Delete) -> None:
        if self.role is not Role.ORCHESTRATOR:
            return
        targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
        for target in targets:
            for leaf in _store_leaves(target):
                if isinstance(leaf, ast.Name):
                    if leaf.id in self.declared_global:
                        self.report(leaf, rules.GLOBAL_STATE, f"`global {leaf.id}` assignment")
                    continue
                root = _root_name(leaf)
                if root is not None and root not in self.locals and root in self.namespace:
                    self.report(leaf, rules.GLOBAL_STATE, f"`{ast.unparse(leaf)}` assignment")

    def check_yield(self, node: ast.Yield) -> None:
        value = node.value
        if value is None:
            self.report(node, rules.YIELD_NOT_TASK, "a bare `yield`")
        elif isinstance(value, _NOT_TASK_NODES):
            self.report(node, rules.YIELD_NOT_TASK, f"`yield {ast.unparse(value)}`")
        elif isinstance(value, ast.Call):
            parts = dotted(value.func)
            if parts is None:
                return
            if len(parts) > 1 and parts[-1] in NOT_TASKS and parts[0] in self.locals:
                self.report(node, rules.YIELD_NOT_TASK, f"`yield {ast.unparse(value.func)}()`")
                return
            target = self.resolve(parts)
            if callable(target) and not self.is_app_function(target) and not _is_durable(target):
                self.report(node, rules.YIELD_NOT_TASK, f"`yield {ast.unparse(value.func)}()`")

    def check_durable_name(self, call: ast.Call, method: str) -> None:
        kind = NAMED_CALLS[method]
        argument = _argument(call, 0, ("name", "entityId", "entity_id"))
        if kind is DurableKind.ENTITY:
            argument = self.entity_name_node(argument)
        name = self.constant_text(argument)
        if name is None or self.index.has(kind, name):
            return
        message = f"`{method}('{name}')` names no {kind.value} of the app"
        other = [k for k in DurableKind if k is not kind and self.index.has(k, name)]
        if other:
            message += f": '{name}' is an {other[0].value} (use {_CALL_FOR_KIND[other[0]]})"
        known = {fn.name.lower(): fn.name for fn in self._table(kind).values()}
        close = difflib.get_close_matches(name.lower(), list(known), n=1, cutoff=0.6)
        if close:
            message += f"; did you mean '{known[close[0]]}'?"
        self.report(call, rules.UNKNOWN_FUNCTION, "", text=message)

    def _table(self, kind: DurableKind) -> Any:
        return {
            DurableKind.ACTIVITY: self.index.activities,
            DurableKind.ORCHESTRATOR: self.index.orchestrators,
            DurableKind.ENTITY: self.index.entities,
        }[kind]

    def entity_name_node(self, node: ast.expr | None) -> ast.expr | None:
        if isinstance(node, ast.Name) and node.id in self.locals:
            node = self._assigned_entity_id(node.id)
        if isinstance(node, ast.Call) and (dotted(node.func) or [""])[-1] == "EntityId":
            return _argument(node, 0, ("name",))
        return None

    def _assigned_entity_id(self, variable: str) -> ast.Call | None:
        for node in ast.walk(self.node):
            if (
                isinstance(node, ast.Assign)
                and isinstance(node.value, ast.Call)
                and any(isinstance(t, ast.Name) and t.id == variable for t in node.targets)
            ):
                return node.value
        return None

    def constant_text(self, node: ast.expr | None) -> str | None:
        if isinstance(node, ast.Constant):
            return node.value if isinstance(node.value, str) else None
        parts = dotted(node) if node is not None else None
        value = self.resolve(parts) if parts else None
        return value if isinstance(value, str) else None


def _argument(call: ast.Call, position: int, keywords: tuple[str, ...]) -> ast.expr | None:
    if len(call.args) > position and not isinstance(call.args[position], ast.Starred):
        return call.args[position]
    return next((k.value for k in call.keywords if k.arg in keywords), None)


def _store_leaves(target: ast.expr) -> list[ast.expr]:
    if isinstance(target, (ast.Tuple, ast.List)):
        return [leaf for item in target.elts for leaf in _store_leaves(item)]
    if isinstance(target, ast.Starred):
        return _store_leaves(target.value)
    return [target]


def _root_name(node: ast.expr) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _is_durable(target: Any) -> bool:
    # The 1.x SDK's, or durabletask's (2.x: `task.when_all`, `task.when_any`).
    module = getattr(target, "__module__", None) or ""
    return module.startswith(("azure.durable_functions", "durabletask"))
