"""Authentication: an authority of X.509 certificates and mutual TLS 1.3 on links.

``authority`` makes and keeps the files (``lp49 auth``); ``tls`` puts TLS on a link and
names the peer; ``cap`` is the capability hash of cap(3).  They sit just above
``lp49fs.errors`` and ``lp49fs.ninep`` (an Rerror for plain 9P): transports, servants,
servers, programs and the node all use them.
"""
