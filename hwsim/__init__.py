"""hwsim: emulated hardware for an LP49 node (RAM frames, interrupt lines, timer, UART, bus).

It knows nothing above it: no import from ``kernel`` or ``lp49fs``.  Modules, one device each:
``ram`` (Ram, PAGE_SIZE), ``irq`` (InterruptController), ``timer`` (Timer on trio's clock),
``uart`` (Uart), ``console`` (attach a Uart to stdio, a pty or a unix socket), ``bus`` (Bus),
``machine`` (Machine: all of them wired together).
"""

from hwsim.machine import Machine as Machine
from hwsim.ram import PAGE_SIZE as PAGE_SIZE
from hwsim.uart import Uart as Uart
