"""OpenTelemetry for all services: providers from the standard OTEL_* variables, NATS context propagation."""
