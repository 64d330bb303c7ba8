"""A custom class passed between functions (the SDK calls to_json / from_json)."""

from __future__ import annotations

from typing import Any


class Greeting:
    def __init__(self, city: str, times: int) -> None:
        self.city = city
        self.times = times

    @staticmethod
    def to_json(obj: Greeting) -> dict[str, Any]:
        return {"city": obj.city, "times": obj.times}

    @staticmethod
    def from_json(data: dict[str, Any]) -> Greeting:
        return Greeting(data["city"], data["times"])

    def text(self) -> str:
        return " ".join([f"Hello {self.city}!"] * self.times)
