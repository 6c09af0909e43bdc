"""What runs on Linux around a node: the ``lp49`` command and its host-side subcommands.

Everything under ``lp49fs/host`` is a Linux program or a Linux-side helper; nothing here runs
inside an LP49 node.  The node's own parts (``kernel``, ``lp49fs.core``, ``lp49fs.servants``,
the programs in ``lp49fs.cmd`` and ``lp49fs.servers``) never import this package, except the
two leaf helpers that every daemon on the host shares (``hostlog``, ``sdnotify``).

- ``cli.py``: ``lp49 COMMAND``, the table of subcommands (the ``lp49`` console script);
- ``node.py``: ``lp49 node``, one node daemon (boot, console, export listener, systemd);
- ``console.py``: ``lp49 console``, a terminal attached to a running node's console socket;
- ``mount.py``: ``lp49 mount`` and ``mount.fuse.lp49``, a name space on a Linux directory
  (the FUSE file system itself is ``lp49fs.fuse``);
- ``cmd9p.py``: ``lp49 9p``, a 9P2000 client for scripts;
- ``serve.py``, ``ramfs.py``, ``u9fs.py``: ``lp49 ramfs`` and ``lp49 u9fs``, 9P servers run
  as Linux processes (the servers themselves are in ``lp49fs.servers``);
- ``auth.py``: ``lp49 auth``, keeping an authority directory (``lp49fs.auth``);
- ``demo/``: ``lp49 demo``, scripted scenarios that boot several nodes;
- ``hostlog.py``, ``sdnotify.py``: where a host daemon's log goes; telling systemd it is ready.

This file imports nothing, so the leaf helpers stay cheap to import.
"""
