from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from example_shop.shop.demo_users import ensure_demo_users


class Command(BaseCommand):
    help = "Create (or reset) the demo logins: admin/admin (superuser) and shopper/shopper123."

    def handle(self, *args: Any, **opts: Any) -> None:
        for line in ensure_demo_users():
            self.stdout.write(line)
