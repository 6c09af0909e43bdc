"""The node's own IP stack: ``#I`` over ``#l`` (``lp49 node --stack own``), Plan 9's ip/.

Bottom up, one idea per module: ``pkt`` (Ethernet, ARP, IPv4, ICMP, UDP formats and the
checksum), ``stack`` (interfaces, ARP, routes, IPv4 in and out), ``conv`` (conversations,
ICMP echo, UDP), ``tcpseg`` (TCP segments), ``tcb`` (one TCP connection: the RFC 9293 state
machine, retransmission, windows), ``tcp`` (demultiplexing, listeners, ``/net/tcp/N``) and
``devip`` (the ``#I`` file tree, the servant ``Inet``).  ``servants/ip`` is the other
``#I``: the same files over host sockets.
"""
