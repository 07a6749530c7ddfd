import pytest
from cryptography.fernet import Fernet

from syndicate.crypto import TokenVault, UndecryptableSecret


def test_vault_round_trips_and_never_stores_plaintext():
    vault = TokenVault([Fernet.generate_key().decode()])
    sealed = vault.encrypt("AQX-secret-token")
    assert "AQX-secret-token" not in sealed
    assert vault.decrypt(sealed) == "AQX-secret-token"


def test_rotation_moves_secrets_to_the_newest_key_so_the_old_can_go():
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    sealed_with_old = TokenVault([old]).encrypt("token")
    rotated = TokenVault([new, old]).rotate(sealed_with_old)
    assert TokenVault([new]).decrypt(rotated) == "token"
    with pytest.raises(UndecryptableSecret):
        TokenVault([new]).decrypt(sealed_with_old)


def test_tampered_or_foreign_values_raise_one_clear_error():
    vault = TokenVault([Fernet.generate_key().decode()])
    sealed = vault.encrypt("token")
    for bad in (
        sealed[:-4] + "AAAA",
        "not even base64",
        TokenVault([Fernet.generate_key().decode()]).encrypt("token"),
    ):
        with pytest.raises(UndecryptableSecret):
            vault.decrypt(bad)
