"""lp49fs: LP49 (an L4 microkernel with Plan 9 servants, servers and 9P2000) in Python.

The layers, bottom up (README.md draws them): ``hwsim`` (emulated hardware) ← ``kernel`` (the L4
model) ← ``lp49fs.hvm`` and ``lp49fs.core`` ← ``lp49fs.servants``; programs
(``lp49fs.cmd``, ``lp49fs.servers``, ``lp49fs.fuse``) reach the core only through
``lp49fs.lib``.  ``lp49fs.ninep`` is 9P2000 itself, sans-IO, and depends on nothing else.
``lp49fs.host`` is the Linux side around a node: the ``lp49`` command and its subcommands.
``tests/test_layering.py`` keeps these directions honest.
"""

__version__ = "0.1.0"
