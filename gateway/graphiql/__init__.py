"""GraphiQL, served from the package: its browser files (built from npm at install time),
the page that loads them, and the development user picker."""
