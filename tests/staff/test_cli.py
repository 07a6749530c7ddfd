from sqlalchemy import select

from syndicate.staff.models import Role, User


def test_users_create_makes_an_admin_who_can_sign_in(runner, session, client):
    result = runner.invoke(
        args=["users", "create", "Boss@Example.test", "--role", "admin", "--password-stdin"],
        input="a very long password\n",
    )
    assert result.exit_code == 0, result.output
    assert "Created admin boss@example.test" in result.output
    user = session.scalar(select(User).where(User.email == "boss@example.test"))
    assert user.role is Role.ADMIN
    login = client.post(
        "/login", data={"email": "boss@example.test", "password": "a very long password"}
    )
    assert login.status_code == 302


def test_users_create_refuses_a_weak_password_clearly(runner, session):
    result = runner.invoke(
        args=["users", "create", "a@example.test", "--password-stdin"], input="short\n"
    )
    assert result.exit_code == 1
    assert "at least 12 characters" in result.output
    assert session.scalar(select(User)) is None
