"""Authentication: an authority of X.509 certificates and mutual TLS 1.3 on links.

``authority`` makes and keeps the files (``lp49 auth``); ``tls`` puts TLS on a link and
names the peer.  Both are leaves above ``lp49fs.errors``: transports, servers, programs and
the node all use them, and they import nothing else of the project.
"""
