"""Use cases that change the catalogue: each one transaction, authorised by the policy."""
