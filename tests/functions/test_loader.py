"""load_app: importing function_app.py and indexing it like the Python worker."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from durable_host.errors import AppLoadError, FunctionNotFoundError
from durable_host.functions import DurableKind, FunctionIndex, load_app

APPS = Path(__file__).resolve().parent.parent / "apps"
BASIC = APPS / "basic"


@pytest.fixture(scope="module")
def index() -> FunctionIndex:
    return load_app(BASIC)


def write_app(folder: Path, source: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "function_app.py").write_text(textwrap.dedent(source), encoding="utf-8")
    return folder


def test_durable_functions_are_classified_and_named_by_override(index: FunctionIndex) -> None:
    assert set(index.orchestrators) == {"hello_orchestrator", "RenamedOrchestrator"}
    assert set(index.entities) == {"Counter"}
    assert "Renamed_Activity" in index.activities
    assert "renamed" not in index.activities  # the override replaces the function name
    assert {"shout", "say_hello", "async_echo", "failing_activity"} <= set(index.activities)

    renamed = index.get_activity("renamed_activity")
    assert renamed.function_name == "renamed"
    assert renamed.kind is DurableKind.ACTIVITY
    assert renamed.trigger_param == "value"
    orchestrator = index.get_orchestrator("renamedORCHESTRATOR")
    assert orchestrator.function_name == "failing_orchestrator"
    assert orchestrator.is_async is False
    assert index.get_entity("counter").name == "Counter"
    assert index.get_activity("async_echo").is_async is True
    assert index.get_activity("with_context").requires_context is True
    assert index.get_activity("say_hello").requires_context is False


def test_http_functions_keep_route_methods_auth_and_client(index: FunctionIndex) -> None:
    by_name = {fn.name: fn for fn in index.http}
    start = by_name["http_start"]
    assert start.route == "orchestrators/{name}/{instance_id?}"
    assert start.methods == ("POST", "GET")
    assert start.auth_level == "ANONYMOUS"
    assert start.client_param == "client"
    assert start.is_async is True

    hello = by_name["hello_http"]
    assert (hello.route, hello.methods, hello.auth_level) == ("hello/{name?}", ("GET",), "FUNCTION")
    assert hello.requires_context is True
    assert hello.client_param is None
    assert not hello.allows("POST") and hello.allows("get")

    text = index.get_http("asynctext")
    assert text.name == "AsyncText"
    assert text.route == "text"  # no route given: the app default (function name) is "text" here
    assert text.methods == () and text.allows("DELETE")


def test_other_triggers_are_listed_as_unsupported(index: FunctionIndex) -> None:
    assert [(f.name, f.trigger_type) for f in index.unsupported] == [
        ("every_five_minutes", "timerTrigger")
    ]


def test_unknown_names_get_the_extension_message(index: FunctionIndex) -> None:
    with pytest.raises(FunctionNotFoundError) as caught:
        index.get_orchestrator("say_hello")
    assert str(caught.value) == (
        "The function 'say_hello' doesn't exist, is disabled, or is not an orchestrator "
        "function. Additional info: The following are the known orchestrator functions: "
        "'hello_orchestrator', 'RenamedOrchestrator'."
    )
    with pytest.raises(FunctionNotFoundError, match="is not an activity function"):
        index.get_activity("hello_orchestrator")
    with pytest.raises(FunctionNotFoundError, match="known entity functions: 'Counter'"):
        index.get_entity("nope")


def test_no_orchestrators_message(tmp_path: Path) -> None:
    app = write_app(
        tmp_path / "empty",
        """
        import azure.durable_functions as df
        app = df.DFApp()

        @app.activity_trigger(input_name="x")
        def only(x):
            return x
        """,
    )
    index = load_app(app)
    with pytest.raises(FunctionNotFoundError) as caught:
        index.get_orchestrator("Hello")
    assert str(caught.value).endswith("No orchestrator functions are currently registered!")


def test_missing_function_app(tmp_path: Path) -> None:
    with pytest.raises(AppLoadError, match=r"No function_app\.py in .*v2 programming model"):
        load_app(tmp_path)


def test_syntax_error_is_reported_with_the_file_and_line(tmp_path: Path) -> None:
    app = write_app(tmp_path / "broken", "import azure.functions\ndef oops(:\n    pass\n")
    with pytest.raises(AppLoadError) as caught:
        load_app(app)
    message = str(caught.value)
    assert "function_app.py failed" in message
    assert "SyntaxError" in message and "line 2" in message
    assert "function_app" not in sys.modules


def test_import_error_includes_the_original_traceback(tmp_path: Path) -> None:
    app = write_app(
        tmp_path / "imports",
        """
        import azure.durable_functions as df
        from helpers import missing_name

        app = df.DFApp()
        """,
    )
    (app / "helpers.py").write_text("present = 1\n", encoding="utf-8")
    with pytest.raises(AppLoadError) as caught:
        load_app(app)
    message = str(caught.value)
    assert "ImportError: cannot import name 'missing_name' from 'helpers'" in message
    assert 'function_app.py", line 3' in message
    assert "importlib" not in message  # the import machinery's frames are left out
    assert "helpers" not in sys.modules


def test_app_without_function_app_instance(tmp_path: Path) -> None:
    app = write_app(
        tmp_path / "noapp", "import azure.durable_functions as df\nbp = df.Blueprint()\n"
    )
    with pytest.raises(AppLoadError, match="Could not find top level function app instances"):
        load_app(app)


def test_two_apps_are_refused(tmp_path: Path) -> None:
    app = write_app(
        tmp_path / "twoapps",
        "import azure.durable_functions as df\nfirst = df.DFApp()\nsecond = df.DFApp()\n",
    )
    with pytest.raises(AppLoadError, match="More than one DFApp"):
        load_app(app)


def test_names_differing_only_in_case_are_duplicates(tmp_path: Path) -> None:
    app = write_app(
        tmp_path / "dupes",
        """
        import azure.durable_functions as df
        app = df.DFApp()

        @app.activity_trigger(input_name="x")
        def hello(x):
            return x

        @app.function_name("Hello")
        @app.activity_trigger(input_name="x")
        def hello_again(x):
            return x
        """,
    )
    with pytest.raises(AppLoadError, match="named 'hello' and 'Hello'"):
        load_app(app)


def test_exact_duplicate_names_fail_indexing(tmp_path: Path) -> None:
    app = write_app(
        tmp_path / "exactdupes",
        """
        import azure.durable_functions as df
        app = df.DFApp()

        @app.function_name("same")
        @app.activity_trigger(input_name="x")
        def one(x):
            return x

        @app.function_name("same")
        @app.activity_trigger(input_name="x")
        def two(x):
            return x
        """,
    )
    with pytest.raises(AppLoadError, match="does not have a unique function name"):
        load_app(app)


def test_orchestrator_context_must_be_named_context(tmp_path: Path) -> None:
    app = write_app(
        tmp_path / "ctxname",
        """
        import azure.durable_functions as df
        app = df.DFApp()

        @app.orchestration_trigger(context_name="ctx")
        def orch(ctx):
            yield ctx.call_activity("x")
        """,
    )
    with pytest.raises(
        AppLoadError, match=r"cannot load the orch function: .*context_name=\"context\""
    ):
        load_app(app)


def test_parameter_without_binding_is_refused(tmp_path: Path) -> None:
    app = write_app(
        tmp_path / "extraparam",
        """
        import azure.durable_functions as df
        app = df.DFApp()

        @app.activity_trigger(input_name="x")
        def act(x, y):
            return x
        """,
    )
    with pytest.raises(
        AppLoadError, match=r"declared in Python but not in function\.json: \{'y'\}"
    ):
        load_app(app)


def test_loading_another_app_replaces_its_modules() -> None:
    basic = load_app(BASIC)
    basic_shout = basic.get_activity("shout").user_function
    assert basic_shout("hi") == "HI"
    assert Path(sys.modules["activities"].__file__ or "").is_relative_to(BASIC)

    other = load_app(APPS / "other")
    assert other.get_activity("shout").user_function("hi") == "other app: hi"
    assert Path(sys.modules["activities"].__file__ or "").is_relative_to(APPS / "other")
    assert "activities.shout" not in sys.modules
    assert str(BASIC) not in sys.path

    again = load_app(BASIC)
    assert again.get_activity("shout").user_function("hi") == "HI"
    assert again.get_activity("shout").user_function is not basic_shout  # imported afresh
    assert basic_shout("still works") == "STILL WORKS"
