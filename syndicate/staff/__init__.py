"""Staff users, roles, login and API tokens."""
