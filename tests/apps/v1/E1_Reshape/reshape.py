"""An activity with its own scriptFile and entryPoint, taking and returning a custom class."""

from ..shared_code.greetings import Greeting


def reshape(greeting: Greeting) -> Greeting:
    return Greeting(greeting.city.upper(), greeting.times)
