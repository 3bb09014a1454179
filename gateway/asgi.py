"""The ASGI entry point for uvicorn and other servers: `gateway.asgi:app`."""

import logging

from gateway.app import create_app

# uvicorn configured this worker's loggers (log_config); Python's warnings join them.
logging.captureWarnings(True)

app = create_app()
