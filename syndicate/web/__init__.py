"""Layout, errors, security headers, health and metrics."""
