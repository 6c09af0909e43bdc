"""kernel: an executable model of the L4 X.2 microkernel (threads, spaces, IPC, mappings).

The only "kernel mode" part of a node.  It may import ``hwsim``, nothing from ``lp49fs``.
Modules: ``types`` (values and error codes), ``ipc`` (the Ipc call), ``thread`` (Thread: TCB,
UTCB and the IPC verbs), ``space`` (address spaces), ``mapdb`` (mapping database),
``interrupt`` (interrupts as IPC), ``kip`` (kernel information page), ``kernel`` (boot with
``open_kernel``, thread table, privileged calls).  docs/kernel.md walks through them.
"""
