"""The resolver `info` type of this schema."""

from __future__ import annotations

from typing import TypeAlias

import strawberry

from gateway.resolvers.context import RequestContext

Info: TypeAlias = strawberry.Info[RequestContext, None]
