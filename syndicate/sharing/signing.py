"""Ed25519 signatures on permission records, verifiable by anyone with the published key.

A record is signed as canonical JSON: the record without its ``signature`` field, keys
sorted, no whitespace, UTF-8 (``json.dumps(record, sort_keys=True, separators=(",", ":"),
ensure_ascii=False)``). docs/sharing.md shows the five lines that verify one.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from flask import Flask

from syndicate.config import ConfigError

KEY_FILE = "sharing_signing_key"


def canonical_json(document: dict[str, Any]) -> bytes:
    """The exact bytes that are signed: sorted keys, no whitespace, UTF-8."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


def new_private_key() -> str:
    """A fresh key in the SYNDICATE_SHARING_SIGNING_KEY format: base64 of 32 raw bytes."""
    return base64.b64encode(secrets.token_bytes(32)).decode("ascii")


class Signer:
    """Signs permission records with one Ed25519 key and describes its public half."""

    def __init__(self, private_key_b64: str) -> None:
        try:
            raw = base64.b64decode(private_key_b64.strip(), validate=True)
            self._key = Ed25519PrivateKey.from_private_bytes(raw)
        except ValueError:
            raise ConfigError(
                "SYNDICATE_SHARING_SIGNING_KEY must be the base64 of a 32-byte Ed25519 "
                "private key (make one with: syndicate sharing new-key)"
            ) from None
        public = self._key.public_key()
        self.public_raw = public.public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.public_key_b64 = base64.b64encode(self.public_raw).decode("ascii")
        self.public_pem = public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode("ascii")
        self.key_id = hashlib.sha256(self.public_raw).hexdigest()[:16]

    def sign(self, document: dict[str, Any]) -> str:
        """The base64 signature of the document's canonical JSON."""
        return base64.b64encode(self._key.sign(canonical_json(document))).decode("ascii")

    def published_key(self) -> dict[str, str]:
        return {
            "key_id": self.key_id,
            "algorithm": "Ed25519",
            "public_key": self.public_key_b64,
            "pem": self.public_pem,
        }


def verify_record(record: dict[str, Any], public_key_b64: str) -> bool:
    """True when ``record["signature"]`` signs the rest of the record under this key."""
    unsigned = {k: v for k, v in record.items() if k != "signature"}
    try:
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key_b64))
        key.verify(base64.b64decode(record.get("signature", "")), canonical_json(unsigned))
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def signer_for(app: Flask) -> Signer:
    """The app's signer, built once from SYNDICATE_SHARING_SIGNING_KEY.

    Outside production a missing key is generated once and kept in the instance folder, so
    that records stay verifiable across restarts and processes (like the token key).
    """
    signer: Signer | None = app.extensions.get("sharing_signer")
    if signer is None:
        key = app.config.get("SHARING_SIGNING_KEY")
        if not key:
            if app.config["ENV"] == "production":
                raise ConfigError("Production needs SYNDICATE_SHARING_SIGNING_KEY.")
            key = _instance_key(Path(app.instance_path))
        made: Signer = app.extensions.setdefault("sharing_signer", Signer(key))
        return made
    return signer


def _instance_key(instance_path: Path) -> str:
    instance_path.mkdir(parents=True, exist_ok=True)
    path = instance_path / KEY_FILE
    if not path.exists():
        path.write_text(new_private_key())
        path.chmod(0o600)
    return path.read_text().strip()
