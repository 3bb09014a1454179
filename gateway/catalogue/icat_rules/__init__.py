"""ICAT's own authorization rules (``RULE_``), compiled to SQL filters.

``language`` parses the three forms of a rule's WHAT that icat.server accepts,
``relationships`` resolves their steps through ICAT's relationships (the models' foreign
keys and the declared relations of ``gateway.fields.graph``), ``compiler`` turns a parsed
rule into an SQLAlchemy condition, and ``ruleset`` reads the catalogue's rules, compiles
them once and again when they change, and answers "which rows of this entity may this
caller read" as one filter (the union of the caller's R rules). The policy's SQL
(``gateway.catalogue.visibility``) asks it when ``Settings.authorization`` is
``icat-rules``. It lives in ``gateway.catalogue`` beside ``visibility``, not in
``gateway.auth``: it is the rules written as SQL over ICAT's models, which the policy
package may not import (``tests/unit/test_layers.py``).
"""
