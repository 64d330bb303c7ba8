"""load_app on v1 apps (a folder per function with its function.json), like the Python worker."""

from __future__ import annotations

import json
import shutil
import sys
import textwrap
from pathlib import Path
from typing import Any

import azure.functions as func
import pytest

from durable_host.errors import AppLoadError
from durable_host.functions import FunctionIndex, FunctionInvoker, load_app

V1 = Path(__file__).resolve().parent.parent / "apps" / "v1"


@pytest.fixture(scope="module")
def index() -> FunctionIndex:
    return load_app(V1)


def write_function(
    app: Path, name: str, bindings: list[dict[str, Any]], source: str, **extra: Any
) -> Path:
    folder = app / name
    folder.mkdir(parents=True, exist_ok=True)
    (app / "host.json").write_text('{"version": "2.0"}', encoding="utf-8")
    declaration = {"scriptFile": "__init__.py", "bindings": bindings, **extra}
    if extra.get("scriptFile", "") is None:
        del declaration["scriptFile"]
    (folder / "function.json").write_text(json.dumps(declaration), encoding="utf-8")
    (folder / "__init__.py").write_text(textwrap.dedent(source), encoding="utf-8")
    return folder / "function.json"


ACTIVITY = [{"name": "name", "type": "activityTrigger", "direction": "in"}]


def test_functions_are_indexed_by_folder_and_trigger(index: FunctionIndex) -> None:
    assert set(index.orchestrators) == {"E1_HelloSequence", "CounterOrchestration"}
    assert set(index.activities) == {"E1_SayHello", "E1_Reshape"}
    assert set(index.entities) == {"Counter"}
    hello = index.get_orchestrator("e1_hellosequence")
    assert hello.trigger_param == "context" and not hello.requires_context
    assert hello.function_directory == str(V1 / "E1_HelloSequence")
    # scriptFile and entryPoint of function.json pick the module and the function.
    reshape = index.get_activity("E1_Reshape")
    assert reshape.user_function.__name__ == "reshape"
    assert reshape.user_function.__module__ == "__app__.E1_Reshape.reshape"
    assert index.get_activity("E1_SayHello").user_function.__module__ == "__app__.E1_SayHello"


def test_http_functions_keep_route_methods_auth_and_outputs(index: FunctionIndex) -> None:
    start = index.get_http("HttpStart")
    assert (start.route, start.methods, start.auth_level) == (
        "orchestrators/{functionName}",
        ("POST", "GET"),
        "ANONYMOUS",
    )
    assert start.client_param == "starter" and start.has_return and start.output_param is None
    trigger = index.get_http("DurableTrigger")
    assert trigger.auth_level == "FUNCTION" and trigger.methods == ("POST",)
    assert not trigger.has_return and trigger.output_param == "message"


def test_relative_imports_resolve_inside_the_app_package(index: FunctionIndex) -> None:
    shared = sys.modules["__app__.shared_code.greetings"]
    assert Path(shared.__file__ or "").parent == V1 / "shared_code"


async def test_activity_takes_and_returns_a_custom_class(index: FunctionIndex) -> None:
    invoker = FunctionInvoker(index)
    try:
        greeting = json.dumps(
            {
                "__class__": "Greeting",
                "__module__": "__app__.shared_code.greetings",
                "__data__": {"city": "oslo", "times": 2},
            }
        )
        outcome = await invoker.invoke_activity("E1_Reshape", greeting)
        assert outcome.error is None
        result = json.loads(outcome.result_json or "")
        assert result["__data__"] == {"city": "OSLO", "times": 2}
    finally:
        invoker.close()


async def test_a_named_http_output_is_the_response(tmp_path: Path) -> None:
    bindings = [
        {"name": "req", "type": "httpTrigger", "direction": "in", "authLevel": "anonymous"},
        {"name": "res", "type": "http", "direction": "out"},
    ]
    source = """
        import azure.functions as func

        def main(req: func.HttpRequest, res: func.Out[func.HttpResponse]) -> None:
            if req.params.get("answer"):
                res.set(func.HttpResponse(req.params["answer"], status_code=201))
        """
    write_function(tmp_path, "Web", bindings, source)
    index = load_app(tmp_path)
    invoker = FunctionInvoker(index)
    try:
        fn = index.get_http("Web")
        answered = await invoker.invoke_http(
            fn, func.HttpRequest("GET", "http://x/api/Web", params={"answer": "yes"}, body=b"")
        )
        assert (answered.status_code, answered.get_body()) == (201, b"yes")
        unset = await invoker.invoke_http(fn, func.HttpRequest("GET", "http://x/api/Web", body=b""))
        assert unset.status_code == 204
    finally:
        invoker.close()


def test_a_missing_script_file_names_the_function_json(tmp_path: Path) -> None:
    path = write_function(tmp_path, "Hello", ACTIVITY, "def main(name): return name\n")
    declaration = json.loads(path.read_text())
    declaration["scriptFile"] = "hello.py"
    path.write_text(json.dumps(declaration))
    with pytest.raises(AppLoadError, match=r"Hello/function\.json: \"scriptFile\" 'hello\.py'"):
        load_app(tmp_path)


def test_no_script_file_and_no_init_names_the_function_json(tmp_path: Path) -> None:
    path = write_function(tmp_path, "Hello", ACTIVITY, "", scriptFile=None)
    (path.parent / "__init__.py").unlink()
    with pytest.raises(AppLoadError, match=r"Hello/function\.json: has no \"scriptFile\""):
        load_app(tmp_path)


def test_a_binding_the_function_does_not_take_names_the_function_json(tmp_path: Path) -> None:
    bindings = [*ACTIVITY, {"name": "extra", "type": "blob", "direction": "in"}]
    write_function(tmp_path, "Hello", bindings, "def main(name): return name\n")
    with pytest.raises(AppLoadError) as caught:
        load_app(tmp_path)
    message = str(caught.value)
    assert message.startswith(str(tmp_path / "Hello" / "function.json"))
    assert "declared in function.json but not in Python: {'extra'}" in message


def test_a_missing_entry_point_names_the_function_json(tmp_path: Path) -> None:
    write_function(tmp_path, "Hello", ACTIVITY, "def run(name): return name\n")
    with pytest.raises(AppLoadError, match=r"function main\(\) is not present in"):
        load_app(tmp_path)


def test_an_out_binding_needs_a_func_out_parameter(tmp_path: Path) -> None:
    bindings = [
        {"name": "req", "type": "httpTrigger", "direction": "in"},
        {"name": "res", "type": "http", "direction": "out"},
    ]
    write_function(
        tmp_path,
        "Web",
        bindings,
        """
        import azure.functions as func

        def main(req: func.HttpRequest, res: func.HttpResponse) -> None:
            pass
        """,
    )
    with pytest.raises(AppLoadError, match=r"binding res is declared to have the \"out\""):
        load_app(tmp_path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", r"function\.json: not valid JSON"),
        ('{"bindings": [{"name": "x", "type": "blob"}]}', "exactly one trigger binding"),
        ('{"bindings": "none"}', r"needs a \"bindings\" list"),
    ],
)
def test_malformed_function_json(tmp_path: Path, content: str, message: str) -> None:
    path = write_function(tmp_path, "Hello", ACTIVITY, "def main(name): return name\n")
    path.write_text(content)
    with pytest.raises(AppLoadError, match=message):
        load_app(tmp_path)


def test_an_import_error_names_the_script(tmp_path: Path) -> None:
    write_function(tmp_path, "Hello", ACTIVITY, "from ..nowhere import x\ndef main(name): ...\n")
    with pytest.raises(AppLoadError) as caught:
        load_app(tmp_path)
    assert f"Importing {tmp_path / 'Hello' / '__init__.py'} failed" in str(caught.value)
    assert "__app__.Hello" not in sys.modules


def test_loading_another_app_replaces_the_package(tmp_path: Path, index: FunctionIndex) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(V1, copy)
    (copy / "E1_Reshape").rename(copy / "Renamed")
    other = load_app(copy)
    assert "Renamed" in other.activities and "E1_Reshape" not in other.activities
    assert "__app__.E1_Reshape.reshape" not in sys.modules
    load_app(V1)  # the module-scoped index's modules again
