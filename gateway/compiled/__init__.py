"""Compiled execution: a query's subtree answered by one SQL statement that builds its JSON.

graphql-core resolves a field at a time: for a page of 50 sessions with their beamlines
and teams, that is thousands of resolver calls, each costing more than the database's
share of the answer. Where the whole selection under a connection's items is made of
fields the compiler knows (``render``), the page's statement renders each item as JSON
itself (as PostGraphile and Hasura do), and the executor passes that JSON through.
Anything it does not know resolves the standard way, field by field; PostgreSQL only.
"""
