"""icat-gateway: one typed GraphQL API in front of an ICAT catalogue."""
