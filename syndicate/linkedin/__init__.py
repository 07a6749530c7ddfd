"""LinkedIn: OAuth connections, the HTTP client, the sandbox server and little-text escaping."""
