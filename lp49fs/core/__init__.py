"""LP49core: Chans, name spaces, name resolution, the file system calls and processes.

Modules, bottom up (each imports only those above it):

* ``chan``: the Chan handle, Path, reference counts, ``Dev`` (what the core calls on a servant).
* ``mount``: Pgrp / Mhead / Mount, the mount table and its rules.
* ``proc``: Proc, Fgrp, Egrp, rfork, the task-local ``up``.
* ``dev``: the servant base (Plan 9's ``dev.c``): ``Servant`` with its defaults and helpers.
* ``core``: the per-node ``Core`` (devtab, process table); no module-level state.
* ``namec``: path evaluation across mounts and unions.
* ``sysfile``: the system calls (open, read, bind, mount, ...) on a process.

Servants (``lp49fs.servants``) sit above, subclass ``dev.Servant`` and import from here; the core
never imports them.
"""
