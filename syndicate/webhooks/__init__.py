"""Outgoing webhooks: signed POSTs of events to receivers staff register."""
