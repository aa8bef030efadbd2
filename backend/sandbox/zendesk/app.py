"""The Zendesk simulator as an ASGI app, and its command line."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.serve import env_int
from sandbox.zendesk.common import (
    DEFAULT_API_TOKEN,
    DEFAULT_EMAIL,
    DEFAULT_OAUTH_TOKEN,
    REAL_ENDPOINT_LIMITS_PER_MINUTE,
    _Context,
)
from sandbox.zendesk.handlers_search import SearchHandlers
from sandbox.zendesk.handlers_tickets import TicketHandlers
from sandbox.zendesk.handlers_webhooks import WebhookHandlers
from sandbox.zendesk.people import PeopleHandlers
from sandbox.zendesk.records import RecordHandlers
from sandbox.zendesk.simulator import ZendeskSimulator


def create_zendesk_app(sim: ZendeskSimulator | None = None) -> Starlette:
    """The simulator as an ASGI app; its state is `app.state.sim`."""
    sim = sim or ZendeskSimulator()
    tickets = TicketHandlers(sim)
    search = SearchHandlers(sim)
    webhooks = WebhookHandlers(sim)
    people = PeopleHandlers(sim)
    records = RecordHandlers(sim)
    routes: list[Route] = []

    def add(path: str, name: str, handler: Callable[[_Context], Any], methods: list[str]) -> None:
        async def endpoint(request: Request) -> Response:
            return await sim.dispatch(request, name, handler)

        for variant in (f"/api/v2{path}.json", f"/api/v2{path}"):
            routes.append(Route(variant, endpoint, methods=methods, name=f"{name}{variant}"))

    add("/users/me", "users_me", tickets.users_me, ["GET"])
    add("/users", "list_users", people.list_users, ["GET"])
    add("/users", "create_user", people.create_user, ["POST"])
    add("/users/show_many", "show_many_users", people.show_many_users, ["GET"])
    add("/users/{user_id:int}", "show_user", people.show_user, ["GET"])
    add("/organizations", "list_organizations", people.list_organizations, ["GET"])
    add("/organizations", "create_organization", people.create_organization, ["POST"])
    add(
        "/organizations/show_many",
        "show_many_organizations",
        people.show_many_organizations,
        ["GET"],
    )
    add(
        "/organizations/{organization_id:int}",
        "organization",
        people.organization,
        ["GET", "PUT", "DELETE"],
    )
    add("/tickets", "list_tickets", tickets.list_tickets, ["GET"])
    add("/tickets", "create_ticket", tickets.create_ticket, ["POST"])
    add("/tickets/show_many", "show_many", tickets.show_many, ["GET"])
    add("/tickets/create_many", "create_many", tickets.create_many, ["POST"])
    add("/tickets/destroy_many", "destroy_many", tickets.destroy_many, ["DELETE"])
    add("/tickets/update_many", "update_many", tickets.update_many, ["PUT"])
    add("/tickets/{ticket_id:int}", "show_ticket", tickets.show_ticket, ["GET"])
    add("/tickets/{ticket_id:int}", "update_ticket", tickets.update_ticket, ["PUT"])
    add("/tickets/{ticket_id:int}", "delete_ticket", tickets.delete_ticket, ["DELETE"])
    add("/tickets/{ticket_id:int}/comments", "comments", tickets.comments, ["GET"])
    add("/tickets/{ticket_id:int}/audits", "ticket_audits", records.ticket_audits, ["GET"])
    add("/ticket_audits", "all_audits", records.all_audits, ["GET"])
    add("/tickets/{ticket_id:int}/metrics", "ticket_metric", records.ticket_metric, ["GET"])
    add("/ticket_metrics", "list_metrics", records.list_metrics, ["GET"])
    add("/ticket_metrics/{metric_id:int}", "show_metric", records.show_metric, ["GET"])
    add("/tickets/{ticket_id:int}/tags", "tags", tickets.tags, ["GET", "PUT", "POST", "DELETE"])
    add("/search", "search", search.search, ["GET"])
    add("/search/count", "search_count", search.search_count, ["GET"])
    add("/search/export", "search_export", search.search_export, ["GET"])
    add("/job_statuses/{job_id}", "job_status", tickets.job_status, ["GET"])
    add("/webhooks", "create_webhook", webhooks.create_webhook, ["POST"])
    add("/webhooks", "list_webhooks", webhooks.list_webhooks, ["GET"])
    add("/webhooks/{webhook_id}", "webhook", webhooks.webhook, ["GET", "DELETE"])
    add(
        "/webhooks/{webhook_id}/signing_secret",
        "webhook_signing_secret",
        webhooks.webhook_signing_secret,
        ["GET"],
    )
    add(
        "/incremental/tickets",
        "incremental_tickets_by_time",
        search.incremental_tickets_by_time,
        ["GET"],
    )
    add(
        "/incremental/tickets/cursor",
        "incremental_tickets",
        search.incremental_tickets,
        ["GET"],
    )

    async def unknown(request: Request) -> Response:
        return await sim.dispatch(request, "unknown", search.unknown)

    routes.append(Route("/{path:path}", unknown, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]))
    app = Starlette(routes=routes)
    app.state.sim = sim
    return app


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description="Run the Zendesk API simulator.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added per request")
    parser.add_argument(
        "--rate-limit",
        type=int,
        default=env_int("ZENDESK_SIM_RPM"),
        help="requests per minute for the account (env ZENDESK_SIM_RPM; default unlimited)",
    )
    parser.add_argument("--fault-rate", type=float, default=0.0, help="share answered 503")
    parser.add_argument("--timeout-rate", type=float, default=0.0, help="share that hang")
    parser.add_argument("--hang", type=float, default=30.0, help="seconds a hung request waits")
    parser.add_argument("--job-delay", type=float, default=0.05)
    parser.add_argument("--email", default=DEFAULT_EMAIL)
    parser.add_argument("--api-token", default=DEFAULT_API_TOKEN)
    parser.add_argument("--oauth-token", default=DEFAULT_OAUTH_TOKEN)
    parser.add_argument("--real-endpoint-limits", action="store_true")
    parser.add_argument("--webhook-url", default=None, help="send signed webhooks here")
    parser.add_argument("--webhook-secret", default=None, help="the webhook's signing secret")
    parser.add_argument(
        "--webhook-events", default="ticket.created", help="comma-separated, e.g. ticket.created"
    )
    args = parser.parse_args(argv)
    sim = ZendeskSimulator(
        email=args.email,
        api_token=args.api_token,
        oauth_token=args.oauth_token,
        latency_s=args.latency,
        rate_limit_per_minute=args.rate_limit,
        fault_5xx_rate=args.fault_rate,
        timeout_rate=args.timeout_rate,
        hang_s=args.hang,
        job_delay_s=args.job_delay,
        endpoint_limits=REAL_ENDPOINT_LIMITS_PER_MINUTE if args.real_endpoint_limits else None,
    )
    if args.webhook_url:
        if not args.webhook_secret:
            parser.error("--webhook-url needs --webhook-secret")
        sim.add_webhook(
            args.webhook_url,
            args.webhook_secret,
            events=tuple(name.strip() for name in args.webhook_events.split(",") if name.strip()),
        )
    print(
        f"Zendesk simulator: http://{args.host}:{args.port}  {len(sim.tickets)} tickets  "
        f"login {args.email}/token (api token from --api-token)"
    )
    uvicorn.run(create_zendesk_app(sim), host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main()
