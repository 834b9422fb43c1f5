"""Progress of the kitchen's long steps, on a terminal and without one.

:func:`step` wraps a step that may take more than a couple of seconds (starting vLLM, a
bench run). On a terminal it shows rich's spinner with the step's text and the seconds
so far; without one (CI logs, ``| tee``) it prints the text once, then ``… still <text>
(N s)`` every ``interval_s`` seconds from a background thread, so a log never goes silent
for long. The caller prints the step's ✓ line itself.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console


@contextmanager
def step(console: Console, text: str, *, interval_s: float = 10.0) -> Iterator[Callable[[str], None]]:
    """Show ``text`` while the block runs; yields ``update(new_text)``.

    Args:
        console: where to print (its ``is_terminal`` chooses the spinner or plain lines).
        interval_s: seconds between plain "still" lines without a terminal.
    """
    start = time.monotonic()
    current = [text]
    if console.is_terminal:
        with console.status(text) as status:
            stop = threading.Event()

            def tick() -> None:
                while not stop.wait(1.0):
                    status.update(f"{current[0]} {time.monotonic() - start:.0f} s")

            def update_tty(new: str) -> None:
                current[0] = new
                status.update(new)

            t = threading.Thread(target=tick, daemon=True)
            t.start()
            try:
                yield update_tty
            finally:
                stop.set()
                t.join()
        return
    console.print(f"… {text}", markup=False, highlight=False)
    stop = threading.Event()

    def still() -> None:
        while not stop.wait(interval_s):
            console.print(f"… still {current[0]} ({time.monotonic() - start:.0f} s)", markup=False, highlight=False)

    t = threading.Thread(target=still, daemon=True)
    t.start()

    def update(new: str) -> None:
        if new != current[0]:
            current[0] = new
            console.print(f"… {new}", markup=False, highlight=False)

    try:
        yield update
    finally:
        stop.set()
        t.join()


__all__ = ["step"]
