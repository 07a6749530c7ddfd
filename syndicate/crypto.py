"""Secrets at rest: OAuth tokens (and later webhook secrets) encrypted with rotating keys."""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class UndecryptableSecret(Exception):
    """No configured key opens this value: it was tampered with or its key was dropped."""


class TokenVault:
    """Encrypts with the newest key; decrypts with any configured key (newest first)."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("TokenVault needs at least one Fernet key")
        self._fernet = MultiFernet([Fernet(key) for key in keys])

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, ciphertext: str) -> str:
        try:
            return self._fernet.decrypt(ciphertext.encode()).decode()
        except (InvalidToken, ValueError, TypeError):
            raise UndecryptableSecret("no configured key decrypts this value") from None

    def rotate(self, ciphertext: str) -> str:
        """The same secret encrypted with the newest key."""
        try:
            return self._fernet.rotate(ciphertext.encode()).decode()
        except (InvalidToken, ValueError, TypeError):
            raise UndecryptableSecret("no configured key decrypts this value") from None
