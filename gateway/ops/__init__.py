"""Operations: what a deployment needs around the GraphQL API itself.

Persisted queries (automatic and registered), rate limits, client addresses behind
proxies, health and readiness, Prometheus metrics, structured logs with request ids, and
the shared Redis connection they use. Each module is standalone; the request gate
(``gateway.gate``) calls them for every request, planned or not.
"""
