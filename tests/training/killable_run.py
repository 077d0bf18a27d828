"""Run a training that pauses right after writing its arrays (before the manifest), so a
test can kill the process at the worst moment. Used by test_killed_run.py."""

from __future__ import annotations

import sys
import time

import django

django.setup()

from django.core.files.storage import FileSystemStorage

from reco_app.training import registry
from tests.training.synthetic import UNTIL

marker = sys.argv[1]
original = FileSystemStorage._save


def pausing_save(self, name, content):  # type: ignore[no-untyped-def]
    saved = original(self, name, content)
    if name.endswith(".npz") and not name.endswith(".state.npz"):
        with open(marker, "w") as fh:
            fh.write(name)
        time.sleep(300)
    return saved


FileSystemStorage._save = pausing_save  # type: ignore[method-assign]
registry.train(until=UNTIL)
