"""Every strawberry class built by ``@declared``, by its GraphQL type name.

Filled as the classes are built (``gateway.schema.declared``); the resolvers derived from
relation declarations name their child types here (``strawberry.lazy``), so a relation
needs no import of its child's module. Nothing else belongs in this namespace.
"""
