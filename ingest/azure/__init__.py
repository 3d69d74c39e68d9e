"""The Azure Functions app: a Durable blueprint over the core engine (no business logic here)."""
