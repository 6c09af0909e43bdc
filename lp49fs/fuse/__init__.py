"""The FUSE bridge: an LP49 name space shown as a Linux directory.

Layers, top down:

* ``mount``   — ``lp49 mount`` / ``mount.fuse.lp49``: parse, resolve SOURCE to a ``Session``,
  mount, daemonize, serve.  ``resolve`` is the seam where the node plugs in.
* ``daemon``  — mount-first-then-daemonize, the ready pipe, signals, the pyfuse3 tail.
* ``options`` — the command line and ``-o`` filter, pure functions.
* ``errno``   — the one ``ENAME_TO_ERRNO`` table (Plan 9 error string -> Linux errno).
* ``ops``     — the ``Operations`` class, an LP49 process reaching the name space only through
  ``lp49fs.lib`` (a later piece of work).
"""
