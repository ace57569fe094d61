"""`trunkline`: the one command users learn (dev stack, each process, admin tasks)."""

import argparse
import asyncio
import json
import math
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy.engine import make_url

from trunkline.settings import SettingError, Settings

if TYPE_CHECKING:
    from sqlmodel.ext.asyncio.session import AsyncSession

T = TypeVar("T")


def _settings(args: argparse.Namespace) -> Settings:
    """Settings from the environment, with any port flags given on the command line applied."""
    overrides: dict[str, Any] = {
        field: value
        for field, value in {
            "api_port": getattr(args, "api_port", None),
            "simulator_port": getattr(args, "sim_port", None),
            "temporal_ui_port": getattr(args, "ui_port", None),
            "data_dir": getattr(args, "data_dir", None),
        }.items()
        if value is not None
    }
    if getattr(args, "temporal_port", None):
        overrides["temporal_address"] = f"127.0.0.1:{args.temporal_port}"
    return Settings(**overrides)


def _run_dev(args: argparse.Namespace) -> int:
    from trunkline.devstack import DevStack

    return asyncio.run(DevStack(_settings(args)).run())


def _run_api(args: argparse.Namespace) -> int:
    import uvicorn

    from api.app import create_app
    from trunkline import logs, tracing
    from trunkline.metrics import process_telemetry
    from trunkline.temporal_config import connect_config

    settings = _settings(args)
    logs.configure(settings.log_format)
    try:
        connect_config(settings)  # a setting that cannot work stops us here, not at first use
        runtime, metrics = process_telemetry(
            settings.metrics_host, settings.api_metrics_port, "API_METRICS_PORT"
        )
    except SettingError as exc:
        print(f"trunkline api: {exc}", file=sys.stderr)
        return 1
    tracing.configure("trunkline-api")
    app = create_app(settings, runtime=runtime, metrics=metrics)
    # uvicorn's own loggers go through ours (text or JSON) rather than its default config
    uvicorn.run(app, host=settings.api_host, port=settings.api_port, log_config=None)
    tracing.shutdown()
    return 0


def _run_simulator(args: argparse.Namespace) -> int:
    import uvicorn

    from simulator.app import create_simulator_app

    settings = _settings(args)
    uvicorn.run(
        create_simulator_app(settings), host=settings.simulator_host, port=settings.simulator_port
    )
    return 0


def _run_worker(_args: argparse.Namespace) -> int:
    import worker

    return worker.main()


def _run_agent(args: argparse.Namespace) -> int:
    try:
        from trunkline.agent.worker import main as run_agent
    except ImportError as exc:
        print(f"trunkline agent needs the agent extra: pip install 'trunkline[agent]' ({exc})")
        return 1
    run_agent(args.livekit_args)
    return 0


def _no_organization(args: argparse.Namespace) -> None:
    """Say which database lacks the organization: the dev stack's is under its data folder."""
    where = make_url(_settings(args).database_url).render_as_string(hide_password=True)
    print(f"no organization {args.organization_id} in {where}", file=sys.stderr)


def _with_session(args: argparse.Namespace, work: "Callable[[AsyncSession], Awaitable[T]]") -> T:
    """Run one admin task in a database session (creating the tables first), then close up."""
    from trunkline.db import Database

    async def run() -> T:
        database = Database(_settings(args).database_url)
        try:
            await database.create_tables()
            async with database.session() as session:
                return await work(session)
        finally:
            await database.dispose()

    return asyncio.run(run())


def _credits(text: str) -> float:
    """A credit amount from the command line: a finite number of at most `MAX_CREDITS`."""
    from trunkline.organizations import MAX_CREDITS

    try:
        amount = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(amount) or abs(amount) > MAX_CREDITS:
        raise argparse.ArgumentTypeError(f"{text}: give at most {MAX_CREDITS:g} credits")
    return amount


def _create_org(args: argparse.Namespace) -> int:
    from trunkline.organizations import create_organization

    created = _with_session(
        args,
        lambda session: create_organization(
            session, args.name, verified=args.verified, credits=args.credits
        ),
    )
    organization_id, api_key = created.organization.id, created.api_key
    if args.json:
        print(json.dumps({"organizationId": organization_id, "apiKey": api_key}))
    else:
        print(f"organization: {organization_id}\napi key:      {api_key}  (shown once)")
        print(f"database:     {_settings(args).database_url}", file=sys.stderr)
    return 0


def _update_org(args: argparse.Namespace) -> int:
    from trunkline.organizations import update_organization

    organization = _with_session(
        args,
        lambda session: update_organization(
            session,
            args.organization_id,
            verified=args.verified,
            credits=args.credits,
            add_credits=args.add_credits,
        ),
    )
    if organization is None:
        _no_organization(args)
        return 1
    print(json.dumps(organization))
    return 0


def _verify_org(args: argparse.Namespace) -> int:
    from trunkline.numbers.kyb import KybError, verify

    try:
        reviewed = _with_session(
            args, lambda session: verify(session, args.organization_id, args.reject)
        )
    except KybError as exc:
        print(exc, file=sys.stderr)
        return 1
    if reviewed is None:
        _no_organization(args)
        return 1
    outcome = {
        "organizationId": args.organization_id,
        "businessVerified": reviewed.status == "approved",
        "kyb": {"id": reviewed.id, "status": reviewed.status},
        "rejectionReason": reviewed.rejection_reason,
    }
    print(json.dumps(outcome))
    return 0


def _list_provider_events(args: argparse.Namespace) -> int:
    from trunkline.providers.events import recent

    events = _with_session(args, lambda session: recent(session, args.provider, args.limit))
    for event in events:
        print(json.dumps(event.model_dump(mode="json")))
    return 0


def _create_key(args: argparse.Namespace) -> int:
    from trunkline.organizations import issue_api_key

    api_key = _with_session(args, lambda session: issue_api_key(session, args.organization_id))
    if api_key is None:
        _no_organization(args)
        return 1
    print(json.dumps({"apiKey": api_key}) if args.json else api_key)
    return 0


def _list_keys(args: argparse.Namespace) -> int:
    from trunkline.organizations import api_keys

    keys = _with_session(args, lambda session: api_keys(session, args.organization_id))
    if keys is None:
        _no_organization(args)
        return 1
    for key in keys:
        print(json.dumps(key))
    return 0


def _revoke_key(args: argparse.Namespace) -> int:
    from trunkline.organizations import revoke_api_key

    revoked = _with_session(args, lambda session: revoke_api_key(session, args.key_id))
    if revoked is None:
        print(f"no API key {args.key_id}", file=sys.stderr)
        return 1
    print(json.dumps(revoked))
    return 0


def _export_history(args: argparse.Namespace) -> int:
    from temporalio.service import RPCError

    from trunkline.histories import export
    from trunkline.temporal import connect

    async def run() -> None:
        await export(await connect(_settings(args)), args.workflow_id, args.output)

    try:
        asyncio.run(run())
    except FileExistsError:
        print(f"{args.output} exists: a recorded history is never rewritten", file=sys.stderr)
        return 1
    except RPCError as exc:
        print(f"no history of {args.workflow_id}: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="trunkline", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, handler: Callable[[argparse.Namespace], int], help: str) -> Any:
        sub = commands.add_parser(name, help=help, description=help)
        sub.set_defaults(handler=handler)
        return sub

    dev = command(
        "dev", _run_dev, "Run the whole embedded stack (Temporal, worker, API, simulator)."
    )
    dev.add_argument("--data-dir", help="Folder for the SQLite files (default .trunkline).")
    for flag, default in (("api", 8000), ("temporal", 7233), ("ui", 8233), ("sim", 7880)):
        dev.add_argument(f"--{flag}-port", type=int, help=f"default {default}")
    command("api", _run_api, "Run the REST API.").add_argument("--api-port", type=int)
    command("worker", _run_worker, "Run the Temporal worker (same as worker.py).")
    command(
        "agent",
        _run_agent,
        "Run the voice agent (LiveKit Agents), registered as LIVEKIT_AGENT_NAME; "
        "default command `start`, or `dev` and the LiveKit Agents CLI's other commands.",
    ).add_argument("livekit_args", nargs=argparse.REMAINDER)
    command("sim", _run_simulator, "Run the telephony simulator.").add_argument(
        "--sim-port", type=int
    )

    org = commands.add_parser("org", help="Manage organizations.").add_subparsers(
        dest="org_command", required=True
    )
    create = org.add_parser("create", help="Create an organization and its first API key.")
    create.set_defaults(handler=_create_org)
    create.add_argument("name")
    create.add_argument("--verified", action="store_true", help="Business verification done.")
    create.add_argument("--credits", type=_credits, default=0, help="Starting credit balance.")
    create.add_argument("--json", action="store_true", help="Print one JSON object.")

    update = org.add_parser("update", help="Set business verification and credits.")
    update.set_defaults(handler=_update_org)
    update.add_argument("organization_id")
    verification = update.add_mutually_exclusive_group()
    verification.add_argument("--verified", dest="verified", action="store_true", default=None)
    verification.add_argument("--unverified", dest="verified", action="store_false")
    credits = update.add_mutually_exclusive_group()
    credits.add_argument("--credits", type=_credits, help="Set the balance.")
    credits.add_argument(
        "--add-credits", type=_credits, help="Add to (or, negative, take from) it."
    )

    verify = org.add_parser(
        "verify",
        help="Approve an organization's submitted business verification (KYB): it may buy numbers.",
    )
    verify.set_defaults(handler=_verify_org)
    verify.add_argument("organization_id")
    verify.add_argument(
        "--reject",
        metavar="REASON",
        help="Reject the submission instead (an approved one is revoked), telling them why.",
    )

    events = command(
        "provider-events", _list_provider_events, "Print stored provider webhooks, newest first."
    )
    events.add_argument("--provider", choices=["livekit", "telnyx"])
    events.add_argument("--limit", type=int, default=20)

    history = command(
        "export-history",
        _export_history,
        "Write a workflow's history (e.g. call-<sessionId>) as a JSON file the replay tests "
        "replay (tests/histories/): a new worker version must replay it before it deploys.",
    )
    history.add_argument("workflow_id")
    history.add_argument("output", type=Path, help="e.g. tests/histories/call-inbound.v2.json")

    key = commands.add_parser("key", help="Manage API keys.").add_subparsers(
        dest="key_command", required=True
    )
    key_create = key.add_parser("create", help="Issue another API key for an organization.")
    key_create.set_defaults(handler=_create_key)
    key_create.add_argument("organization_id")
    key_create.add_argument("--json", action="store_true")
    key_list = key.add_parser("list", help="List an organization's API keys (never the keys).")
    key_list.set_defaults(handler=_list_keys)
    key_list.add_argument("organization_id")
    key_revoke = key.add_parser("revoke", help="Revoke an API key by its id (key_…) at once.")
    key_revoke.set_defaults(handler=_revoke_key)
    key_revoke.add_argument("key_id")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    code = args.handler(args)
    sys.stdout.flush()
    sys.stderr.flush()
    # The Temporal SDK can abort at interpreter exit (sdk-python #300); leave without teardown.
    os._exit(code)


if __name__ == "__main__":
    main()
