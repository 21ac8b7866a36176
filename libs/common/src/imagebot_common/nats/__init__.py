"""NATS wiring shared by the services: one connection, subject names, and the JetStream topology."""
