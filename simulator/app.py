"""The simulator's HTTP application: LiveKit, Telnyx and the control API on one port."""

import base64
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI, Response
from pydantic import BaseModel

from simulator.agent import agent_joiner
from simulator.control import control_router
from simulator.livekit_api import livekit_router
from simulator.provider_webhooks import ProviderWebhooks
from simulator.scripts import Directory
from simulator.telnyx_api import NumberInventory, telnyx_router
from simulator.world import World
from trunkline.providers.telnyx import generate_key_pair
from trunkline.settings import Settings

logger = logging.getLogger(__name__)

SIM_RECORDING = b"OggS" + bytes(60)
"""What every simulated recording downloads as: a stub Ogg page, enough to prove the link."""


class SimulatorConfig(BaseModel):
    livekit_api_key: str
    livekit_api_secret: str
    telnyx_api_key: str
    telnyx_private_key: str
    trunkline_url: str
    public_url: str
    departure_seconds: float = 1.0
    simulated_agent: bool = False
    """Whether a stand-in agent joins each dispatched room and talks (the dev stack turns it on)."""

    @classmethod
    def from_settings(cls, settings: Settings) -> "SimulatorConfig":
        private_key = settings.simulator_telnyx_private_key
        if not private_key:
            private_key = generate_key_pair()[0]
            logger.warning("no SIMULATOR_TELNYX_PRIVATE_KEY: Telnyx webhooks will not verify")
        return cls(
            livekit_api_key=settings.livekit_api_key,
            livekit_api_secret=settings.livekit_api_secret,
            telnyx_api_key=settings.telnyx_api_key,
            telnyx_private_key=private_key,
            trunkline_url=settings.public_base_url,
            public_url=f"http://{settings.simulator_host}:{settings.simulator_port}",
        )


class Simulator:
    """The simulated telephony world and everything that drives it."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.directory = Directory()
        self.inventory = NumberInventory()
        self.requests: dict[str, list[dict[str, Any]]] = {"livekit": [], "telnyx": []}
        self.webhooks = ProviderWebhooks(
            livekit_url=f"{config.trunkline_url}/webhooks/livekit",
            livekit_api_key=config.livekit_api_key,
            livekit_api_secret=config.livekit_api_secret,
            telnyx_url=f"{config.trunkline_url}/webhooks/telnyx",
            telnyx_private_key=Ed25519PrivateKey.from_private_bytes(
                base64.b64decode(config.telnyx_private_key)
            ),
        )
        self.world = World(
            self.directory,
            self.webhooks,
            recordings_base_url=config.public_url,
            departure_seconds=config.departure_seconds,
        )
        if config.simulated_agent:
            self.world.on_dispatch = agent_joiner(self.world)

    def app(self) -> FastAPI:
        @asynccontextmanager
        async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
            yield
            await self.world.close()
            await self.webhooks.close()

        app = FastAPI(title="Trunkline telephony simulator", lifespan=lifespan)
        app.include_router(
            livekit_router(
                self.world,
                self.config.livekit_api_key,
                self.config.livekit_api_secret,
                self.requests["livekit"],
            )
        )
        app.include_router(
            telnyx_router(
                self.world, self.inventory, self.config.telnyx_api_key, self.requests["telnyx"]
            )
        )
        app.include_router(
            control_router(self.world, self.directory, self.webhooks, self.inventory, self.requests)
        )

        @app.get("/recordings/{egress_id}.ogg")
        async def recording(egress_id: str) -> Response:
            finished = self.world.recordings.get(egress_id)
            if finished is None or finished.ended_at is None:
                return Response(status_code=404)
            return Response(SIM_RECORDING, media_type="audio/ogg")

        @app.get("/healthz")
        async def healthz() -> dict[str, str]:
            return {"status": "ok"}

        return app


def create_simulator_app(settings: Settings) -> FastAPI:
    """The simulator as `trunkline sim` runs it: with the stand-in agent."""
    config = SimulatorConfig.from_settings(settings).model_copy(update={"simulated_agent": True})
    return Simulator(config).app()
