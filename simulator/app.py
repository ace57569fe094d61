"""The simulator's HTTP application."""

from fastapi import FastAPI


def create_simulator_app() -> FastAPI:
    app = FastAPI(title="Trunkline telephony simulator")

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
