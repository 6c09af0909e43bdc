"""lp49fs.node: boot glue -- a whole node (hardware, kernel, root task, core, programs).

``lp49fs.node.boot.boot()`` boots one node inside a trio nursery and returns a ``Node``
handle; ``lp49 node`` and the FUSE mount build on it.  This package may import every layer.
"""
