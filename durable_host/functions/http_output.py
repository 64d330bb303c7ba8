"""What the host makes of an HTTP function's output: the `$return` or named `out`
http binding, encoded by the rules of the worker's HttpResponseConverter."""

from __future__ import annotations

from typing import Any

import azure.functions as func


class OutValue(func.Out[Any]):
    """What a v1 function's `out` binding parameter receives (the worker's Out)."""

    def __init__(self) -> None:
        self._value: Any = None

    def set(self, val: Any) -> None:
        self._value = val

    def get(self) -> Any:
        return self._value


def no_return_value(name: str, result: Any) -> None:
    if result is not None:
        raise RuntimeError(f"function {name!r} without a $return binding returned a non-None value")


def http_response(name: str, has_return: bool, result: Any) -> func.HttpResponse:
    """What the host makes of the http output (`$return` or a named one; the
    HttpResponseConverter rules). No http output gives an empty 204."""
    if not has_return:
        no_return_value(name, result)
        return func.HttpResponse(status_code=204)
    if isinstance(result, str):
        result = func.HttpResponse(result, status_code=200, mimetype="text/plain", charset="utf-8")
    if isinstance(result, func.HttpResponse):
        if "content-type" not in result.headers:
            mimetype = result.mimetype
            content_type = (
                f"{mimetype}; charset={result.charset}"
                if mimetype.startswith("text/")
                else mimetype
            )
            result.headers["content-type"] = content_type
        return result
    # The worker's bindings.get_datum message for a type the converter refuses.
    raise TypeError(
        "unable to encode outgoing TypedData: unsupported type "
        f'"{func.http.HttpResponseConverter}" for Python type "{type(result).__name__}"'
    )


def encode(name: str, has_return: bool, output: OutValue | None, result: Any) -> func.HttpResponse:
    """The response from a call's `result`, or from its `out` binding when it has no `$return`."""
    if output is not None and not has_return:
        no_return_value(name, result)
        value = output.get()
        if value is None:  # the output was never set
            return func.HttpResponse(status_code=204)
        return http_response(name, True, value)
    return http_response(name, has_return, result)
