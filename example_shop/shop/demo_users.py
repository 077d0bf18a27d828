"""The demo's two logins: ``admin``/``admin`` (superuser) and ``shopper``/``shopper123``.

``shopper`` is also a seeded shopper (customer key "shopper") with one clear taste, so
logging in as them shows personalised recommendations straight away.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model

ADMIN = ("admin", "admin")
SHOPPER = ("shopper", "shopper123")


def ensure_demo_users() -> list[str]:
    """Create the demo users or reset their passwords; returns what was done."""
    User = get_user_model()
    done: list[str] = []
    for (username, password), staff in ((ADMIN, True), (SHOPPER, False)):
        user, created = User.objects.get_or_create(
            username=username, defaults={"email": f"{username}@example.com"}
        )
        user.is_staff = user.is_superuser = staff
        user.is_active = True
        user.set_password(password)
        user.save()
        done.append(f"{'created' if created else 'updated'} {username!r} (password {password!r})")
    return done
