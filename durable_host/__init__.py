"""durable_host: run Azure Durable Functions Python apps locally on the real task hub layout."""

__version__ = "0.1.0"
