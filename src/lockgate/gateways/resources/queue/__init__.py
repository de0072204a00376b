"""The ``message_queue`` resource type: a NATS connection (JetStream where asked)."""
