"""Share requests, decisions, signed permission records and tracked share links."""
