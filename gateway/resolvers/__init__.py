"""Resolvers and the per-request batched loaders they read through."""
