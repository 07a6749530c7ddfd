"""Email: queued in the outbox with the change that caused it, delivered over SMTP."""
