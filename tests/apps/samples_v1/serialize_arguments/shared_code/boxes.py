"""A class the SDK serializes through its to_json/from_json static methods."""


class NumberBox:
    def __init__(self, number: int) -> None:
        self.number = number

    @staticmethod
    def to_json(obj: object) -> str:
        assert isinstance(obj, NumberBox)
        return str(obj.number)

    @staticmethod
    def from_json(text: str) -> object:
        return NumberBox(int(text))
