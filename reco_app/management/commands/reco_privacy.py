from __future__ import annotations

import json
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from reco_app.consent import privacy
from reco_app.erasure import ErasureBusy


class Command(BaseCommand):
    help = "Answer an access (export) or erasure request for a user or subject keys."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["export", "erase"])
        parser.add_argument("--user", help="Username or primary key of the shopper.")
        parser.add_argument("--subject", action="append", default=[], help="Subject key (repeatable), e.g. anon:<visitor id>.")
        parser.add_argument("--output", "-o", help="Write the export here instead of stdout.")
        parser.add_argument("--yes", action="store_true", help="Confirm erasure.")

    def handle(self, *args: Any, action: str, user: str | None, subject: list[str], output: str | None, yes: bool, **options: Any) -> None:
        # every subject key of the people named, as the admin actions find them: a visitor
        # who signed in is found under the account their history joined, too
        subjects = privacy.expand_subjects(subject, users=[self._user(user)] if user else [])
        if not subjects:
            raise CommandError("Name the shopper with --user or --subject.")
        if action == "export":
            text = json.dumps(privacy.export(subjects), indent=2, default=str)
            if output:
                with open(output, "w", encoding="utf-8") as fh:
                    fh.write(text)
                self.stdout.write(f"Exported {', '.join(subjects)} to {output}.")
            else:
                self.stdout.write(text)
            return
        if not yes:
            raise CommandError("Erasure cannot be undone: add --yes.")
        try:
            counts = privacy.erase(subjects)
        except ErasureBusy as exc:
            raise CommandError(f"Nothing was erased: {exc}") from exc
        self.stdout.write(f"Erased {', '.join(subjects)}: {counts}")

    def _user(self, ref: str) -> Any:
        User = get_user_model()
        found = User._default_manager.filter(**{User.USERNAME_FIELD: ref}).first()
        if found is None and ref.isdigit():
            found = User._default_manager.filter(pk=int(ref)).first()
        if found is None:
            raise CommandError(f"No user {ref!r}.")
        return found
