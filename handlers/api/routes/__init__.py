"""The API's routes, one module a resource. ROUTERS is the one place a router is added."""

from fastapi import APIRouter

from handlers.api.routes import (
    audit_routes,
    deployment_routes,
    gate_routes,
    release_routes,
    service_routes,
    stats_routes,
    version_routes,
)

ROUTERS: list[APIRouter] = [
    release_routes.router,
    service_routes.router,
    version_routes.router,
    stats_routes.router,
    gate_routes.router,
    deployment_routes.router,
    audit_routes.router,
]
