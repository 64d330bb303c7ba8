from typing import Any


def main(name: Any) -> Any:
    return name
