"""Test helpers: loopback stand-ins for the identity provider and ICAT, and their fixtures."""
