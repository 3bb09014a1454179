"""The field catalogue: each field of the API declared once (see ``catalogue``)."""
