"""GraphiQL's browser files: copied from npm's ``node_modules`` into the package at install
time, served under a path that names their versions.

``assets/graphiql/package.json`` and its ``package-lock.json`` pin exact versions;
``scripts/install`` runs ``npm ci`` there and then ``python -m gateway.graphiql.assets``,
which copies the few files the page needs into ``gateway/graphiql/static/`` (git-ignored)
with a ``manifest.json``. The URL prefix (``/static/graphiql-3.8.3-1a2b3c4d/``) carries
GraphiQL's version and a digest of every file, so the files can be cached forever: new
files get a new path.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = ["STATIC_DIR", "Bundle", "build", "installed"]

STATIC_DIR = Path(__file__).parent / "static"
NODE_MODULES = Path(__file__).parents[2] / "assets" / "graphiql" / "node_modules"

# Served name -> path under node_modules. UMD builds: the page loads them with plain
# <script> tags, no bundler. GraphiQL 4 dropped its UMD build, hence 3.x.
FILES = {
    "react.production.min.js": "react/umd/react.production.min.js",
    "react-dom.production.min.js": "react-dom/umd/react-dom.production.min.js",
    "graphiql.min.js": "graphiql/graphiql.min.js",
    "graphiql.min.css": "graphiql/graphiql.min.css",
    "plugin-explorer.umd.js": "@graphiql/plugin-explorer/dist/index.umd.js",
    "plugin-explorer.css": "@graphiql/plugin-explorer/dist/style.css",
}
PACKAGES = ("graphiql", "@graphiql/plugin-explorer", "react", "react-dom")


@dataclass(frozen=True)
class Bundle:
    """The installed files: where they are, and the versions they came from."""

    directory: Path
    versions: dict[str, str]
    digest: str

    @property
    def tag(self) -> str:
        """The versioned path segment the files are served under."""
        return f"graphiql-{self.versions['graphiql']}-{self.digest}"


def build(node_modules: Path = NODE_MODULES, static_dir: Path = STATIC_DIR) -> Bundle:
    """Copy the page's files out of ``node_modules`` and write their manifest."""
    missing = [name for name in FILES.values() if not (node_modules / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"not in {node_modules}: {', '.join(missing)} (run npm ci in assets/graphiql)"
        )
    if static_dir.exists():
        shutil.rmtree(static_dir)
    static_dir.mkdir(parents=True)
    digest = hashlib.sha256()
    for served, source in FILES.items():
        data = (node_modules / source).read_bytes()
        digest.update(served.encode() + b"\0" + data)
        (static_dir / served).write_bytes(data)
    versions = {
        package: json.loads((node_modules / package / "package.json").read_text())["version"]
        for package in PACKAGES
    }
    short = digest.hexdigest()[:8]
    manifest = {"versions": versions, "digest": short, "files": sorted(FILES)}
    (static_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return Bundle(static_dir, versions, short)


def installed(static_dir: Path = STATIC_DIR) -> Bundle | None:
    """The files ``build`` left, or None when they were not built (or only partly)."""
    try:
        manifest = json.loads((static_dir / "manifest.json").read_text())
    except (OSError, ValueError):
        return None
    if not all((static_dir / name).is_file() for name in FILES):
        return None
    return Bundle(static_dir, dict(manifest["versions"]), str(manifest["digest"]))


if __name__ == "__main__":
    bundle = build(Path(sys.argv[1]) if len(sys.argv) > 1 else NODE_MODULES)
    versions = ", ".join(f"{name} {version}" for name, version in bundle.versions.items())
    print(f"GraphiQL files in {bundle.directory} (/static/{bundle.tag}/): {versions}")
