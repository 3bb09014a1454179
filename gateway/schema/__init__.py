"""The GraphQL schema: strawberry types, Relay connections and federation keys."""
