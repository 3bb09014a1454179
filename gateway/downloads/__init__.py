"""Where downloads come from: the ICAT Data Service, the gateway's own store, Globus.

Adapters only: they know nothing of the catalogue or the policy. What a caller may
download is decided by ``gateway.usecases.downloads`` with the catalogue's SQL filters.
"""
