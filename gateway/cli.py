"""The `icat-gateway` command: serve, demo (seed), ingest, export-schema, indexes."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from gateway.settings import Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="icat-gateway", description=__doc__)
    parser.add_argument("--database-url", help="override ICAT_GATEWAY_DATABASE_URL")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser(
        "serve", help="run the gateway (seeds demo data into an empty embedded database)"
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument(
        "--no-demo", action="store_true", help="do not seed an empty embedded database"
    )

    demo = commands.add_parser(
        "demo", help="create the demo facility catalogue (alias: seed)", aliases=["seed"]
    )
    demo.add_argument("--seed", type=int, default=1, help="random seed: same seed, same catalogue")
    demo.add_argument(
        "--size", type=int, default=200, help="number of sessions (datasets scale with it)"
    )
    demo.add_argument("--datasets-per-session", type=int, default=None)
    demo.add_argument("--files-per-dataset", type=int, default=None)
    demo.add_argument("--reset", action="store_true", help="drop and recreate the tables first")

    ingest = commands.add_parser("ingest", help="load an ICAT dump file (python-icat YAML or XML)")
    ingest.add_argument("file", type=Path)

    export = commands.add_parser(
        "export-schema", help="print the GraphQL SDL (or write it to a file)"
    )
    export.add_argument("--output", type=Path)

    commands.add_parser("indexes", help="print the CREATE INDEX statements the gateway needs")

    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    overrides = {"database_url": args.database_url} if args.database_url else {}
    settings = Settings.from_env(**overrides)

    if args.command == "export-schema":
        from gateway.schema.export import export_sdl

        sdl = export_sdl()
        if args.output:
            args.output.write_text(sdl)
        else:
            sys.stdout.write(sdl)
        return 0
    if args.command in ("demo", "seed"):
        from gateway.catalogue.demo import DemoSize, seed_demo

        size = DemoSize.for_sessions(args.size, args.datasets_per_session, args.files_per_dataset)
        counts = asyncio.run(seed_demo(settings, seed=args.seed, size=size, reset=args.reset))
        print(", ".join(f"{n} {what}" for what, n in counts.items()))
        return 0
    if args.command == "ingest":
        from gateway.catalogue.ingest import IngestError, ingest_file

        try:
            counts = asyncio.run(ingest_file(settings, args.file))
        except IngestError as error:
            print(f"icat-gateway ingest: {error}", file=sys.stderr)
            return 1
        print(", ".join(f"{n} {what}" for what, n in counts.items()))
        return 0
    if args.command == "indexes":
        from gateway.catalogue.indexes import print_index_ddl

        asyncio.run(print_index_ddl(settings))
        return 0
    if args.command == "serve":
        import uvicorn

        if settings.embedded and not args.no_demo:
            from gateway.catalogue.demo import DemoSize, seed_if_empty

            asyncio.run(seed_if_empty(settings, DemoSize.for_sessions(200)))
        uvicorn.run(
            "gateway.asgi:app",
            host=args.host,
            port=args.port,
            workers=args.workers,
            log_level="info",
            env_file=None,
        )
        return 0
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
