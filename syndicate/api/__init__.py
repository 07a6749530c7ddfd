"""The JSON API at /api/v1: bearer tokens, pydantic schemas, a generated OpenAPI 3.1 document."""
