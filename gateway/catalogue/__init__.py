"""The catalogue: ICAT's tables, the gateway's own tables, and the queries over them."""
