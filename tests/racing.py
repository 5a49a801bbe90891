"""Races on purpose: run one piece of work on many threads at once, as many servers or tabs
would, and hand back what each got. A thread cannot fail a test by itself, so the first error
any thread raised is raised again here."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

In = TypeVar("In")
Out = TypeVar("Out")


def at_once(work: Callable[[In], Out], inputs: Sequence[In]) -> list[Out]:
    """work(input) for every input, each on its own thread, all released together by a
    barrier; the results in the inputs' order."""
    start = threading.Barrier(len(inputs))
    results: dict[int, Out] = {}
    errors: list[BaseException] = []

    def run(index: int, item: In) -> None:
        try:
            start.wait()
            results[index] = work(item)
        except BaseException as exc:  # raised again below, on the test's own thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i, item)) for i, item in enumerate(inputs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return [results[i] for i in range(len(inputs))]


def times(n: int) -> list[Any]:
    """Inputs for work that takes none: at_once(lambda _: click(), times(4))."""
    return list(range(n))
