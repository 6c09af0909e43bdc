"""``lp49 demo NAME``: scripted scenarios that boot several nodes and show them working.

Host-side glue like ``lp49fs.node``: the demos run ``lp49`` commands as subprocesses and type
at node consoles, so they only use what a person at a terminal would.

- ``netns.py``: emulated hosts (Linux network namespaces joined by veth pairs, or loopback);
- ``console.py``: node subprocesses and a scripted console client;
- ``multihost.py``: ``lp49 demo multihost``, three nodes importing each other's name spaces;
- ``main.py``: the ``lp49 demo`` command table.
"""
