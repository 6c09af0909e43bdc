"""A periodic timer on trio's clock that raises an interrupt line.

``run()`` is a task: every ``period`` seconds of trio time it counts a tick and raises its
line.  Because all timing is trio's, tests drive it with ``trio.testing.MockClock`` /
``autojump_clock`` and never wait in real time.
"""

from __future__ import annotations

import trio

from hwsim.irq import InterruptController


class Timer:
    """Programmable interval timer on interrupt line ``line``."""

    def __init__(self, irqc: InterruptController, line: int = 0, period: float = 0.01) -> None:
        self.irqc = irqc
        self.line = line  # interrupt line raised on each tick
        self.period = period  # seconds of trio time between ticks
        self.ticks = 0  # ticks so far

    @staticmethod
    def now() -> float:
        """The machine's time: trio's clock."""
        return trio.current_time()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Tick forever (cancel to stop)."""
        task_status.started()
        deadline = trio.current_time()
        while True:
            deadline += self.period
            await trio.sleep_until(deadline)
            self.ticks += 1
            self.irqc.raise_line(self.line)
