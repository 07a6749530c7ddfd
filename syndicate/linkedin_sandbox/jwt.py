"""The sandbox's RS256 key (made fresh per process, obviously fake), its JWKS and id_tokens."""

from __future__ import annotations

import base64
import functools
import hashlib
import json
from collections.abc import Mapping

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa


@functools.cache
def _private_key() -> rsa.RSAPrivateKey:
    """One key per process: generating RSA keys is slow, and the sandbox key protects nothing."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _b64url(data: bytes) -> str:
    """Unpadded base64url."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_uint(value: int) -> str:
    """An unsigned big-endian integer in base64url, as JWKs write them."""
    return _b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def _public_numbers() -> dict[str, str]:
    """The public key's JWK members."""
    numbers = _private_key().public_key().public_numbers()
    return {"e": _b64url_uint(numbers.e), "kty": "RSA", "n": _b64url_uint(numbers.n)}


def key_id() -> str:
    """The RFC 7638 thumbprint of the public key."""
    canonical = json.dumps(_public_numbers(), separators=(",", ":"), sort_keys=True)
    return _b64url(hashlib.sha256(canonical.encode("ascii")).digest())


def jwks() -> dict[str, list[dict[str, str]]]:
    """The JSON Web Key Set served at /oauth/openid/jwks."""
    return {"keys": [{**_public_numbers(), "kid": key_id(), "use": "sig", "alg": "RS256"}]}


def sign_jwt(claims: Mapping[str, object]) -> str:
    """A compact RS256 JWS over `claims`."""
    header = {"alg": "RS256", "kid": key_id(), "typ": "JWT"}
    signing_input = ".".join(
        _b64url(json.dumps(part, separators=(",", ":")).encode("utf-8"))
        for part in (header, dict(claims))
    )
    signature = _private_key().sign(
        signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256()
    )
    return f"{signing_input}.{_b64url(signature)}"
