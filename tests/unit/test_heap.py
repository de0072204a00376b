"""The gateway's collector settings, applied in a process of their own (freezing the heap
of the test run itself would keep its garbage for good)."""

from __future__ import annotations

import subprocess
import sys

from lockgate.controllers.heap import YOUNG_COLLECTION_THRESHOLD

_SCRIPT = """
import gc
from lockgate.controllers.heap import settle_heap
before = gc.get_threshold()
settle_heap()
after = gc.get_threshold()
print(gc.get_freeze_count() > 1000, after[0], after[1:] == before[1:])
"""


def test_settling_freezes_what_start_up_made_and_raises_the_young_threshold() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.split() == ["True", str(YOUNG_COLLECTION_THRESHOLD), "True"]
