"""The ASGI entry point for uvicorn and other servers: `gateway.asgi:app`."""

from gateway.app import create_app

app = create_app()
