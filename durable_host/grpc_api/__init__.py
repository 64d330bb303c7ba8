"""The Durable Task gRPC protocol (`TaskHubSidecarService`) served on the engine."""
