"""kernel: an executable model of the L4 X.2 microkernel (threads, spaces, IPC, mappings).

The only "kernel mode" part of a node.  It may import ``hwsim``, nothing from ``lp49fs``.
"""
