from __future__ import annotations

import pytest

from durable_host.errors import ConfigurationError
from durable_host.http.routes import MethodNotAllowed, RouteMatch, Router, RouteTemplate


def match(template: str, path: str) -> dict[str, str] | None:
    return RouteTemplate.parse(template).match([p for p in path.split("/") if p])


def test_literals_are_case_insensitive_and_exact_length() -> None:
    assert match("api/hello", "API/Hello") == {}
    assert match("api/hello", "api/hello/extra") is None
    assert match("api/hello", "api") is None
    assert match("", "") == {}


def test_parameters_optional_and_defaults() -> None:
    assert match("api/hello/{name}", "api/hello/bob") == {"name": "bob"}
    assert match("api/hello/{name}", "api/hello") is None
    assert match("api/hello/{name?}", "api/hello") == {}
    assert match("api/hello/{name?}", "api/hello/amy") == {"name": "amy"}
    assert match("api/page/{n=1}", "api/page") == {"n": "1"}
    assert match("api/page/{n:int=1}", "api/page/7") == {"n": "7"}


@pytest.mark.parametrize(
    ("constraint", "good", "bad"),
    [
        ("int", "-42", "4.2"),
        ("int", "2147483647", "2147483648"),
        ("long", "2147483648", "x"),
        ("alpha", "abcXYZ", "abc1"),
        ("guid", "3f2504e0-4f89-11d3-9a0c-0305e82c3301", "not-a-guid"),
        ("bool", "True", "yes"),
        ("double", "1.5e3", "1.5.3"),
        ("min(10)", "10", "9"),
        ("max(10)", "10", "11"),
        ("range(1,3)", "2", "4"),
        ("minlength(3)", "abc", "ab"),
        ("maxlength(3)", "abc", "abcd"),
        ("length(2)", "ab", "abc"),
        ("int:min(5)", "6", "4"),
    ],
)
def test_typed_constraints(constraint: str, good: str, bad: str) -> None:
    template = "items/{x:" + constraint + "}"
    assert match(template, f"items/{good}") == {"x": good}
    assert match(template, f"items/{bad}") is None


def test_regex_constraint_without_braces() -> None:
    assert match("items/{x:regex(^[a-z]+\\d$)}", "items/ab1") == {"x": "ab1"}
    assert match("items/{x:regex(^[a-z]+\\d$)}", "items/ab") is None


def test_catch_all() -> None:
    assert match("files/{*path}", "files/a/b/c.txt") == {"path": "a/b/c.txt"}
    assert match("files/{*path}", "files") == {}
    assert match("files/{*path}", "other/a") is None


@pytest.mark.parametrize(
    "template",
    ["a/{*rest}/b", "a/{x}/{x}", "a/{x:nope}", "a/file.{ext}", "a/{1x}", "a/{x:min(a)}"],
)
def test_invalid_templates(template: str) -> None:
    with pytest.raises(ConfigurationError, match="Invalid HTTP route template"):
        RouteTemplate.parse(template)


def test_router_404_405_and_precedence() -> None:
    router: Router[str] = Router()
    router.add("api/items/{id}", ["GET"], "by-id")
    router.add("api/items/new", ["GET"], "new")
    router.add("api/items/{id:int}", ["DELETE"], "delete-int")
    router.add("api/any/{*rest}", None, "any")

    found = router.resolve("GET", "/api/items/new")
    assert isinstance(found, RouteMatch) and found.target == "new"
    found = router.resolve("get", "/api/items/42")
    assert isinstance(found, RouteMatch)
    assert (found.target, found.route_params) == ("by-id", {"id": "42"})
    found = router.resolve("DELETE", "/api/items/42")
    assert isinstance(found, RouteMatch) and found.target == "delete-int"

    not_allowed = router.resolve("POST", "/api/items/42")
    assert isinstance(not_allowed, MethodNotAllowed)
    assert not_allowed.allowed == ("DELETE", "GET")
    assert router.resolve("DELETE", "/api/items/abc") == MethodNotAllowed(("GET",))

    found = router.resolve("PATCH", "/api/any/x/y")
    assert isinstance(found, RouteMatch) and found.route_params == {"rest": "x/y"}
    assert router.resolve("GET", "/nothing/here") is None


def test_router_decodes_segments() -> None:
    router: Router[str] = Router()
    router.add("api/hello/{name}", None, "hello")
    found = router.resolve("GET", "/api/hello/J%C3%BCrgen%20K")
    assert isinstance(found, RouteMatch) and found.route_params == {"name": "Jürgen K"}
