"""DOI landing pages: what a DOI the gateway knows resolves to (``/doi/{doi}``)."""
