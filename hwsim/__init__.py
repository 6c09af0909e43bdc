"""hwsim: emulated hardware for an LP49 node (RAM frames, interrupt lines, timer, UART, bus).

It knows nothing above it: no import from ``kernel`` or ``lp49fs``.
"""
