"""DOIs: DataCite (or the embedded local registrar) behind a small registrar interface."""
