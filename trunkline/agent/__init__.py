"""The voice agent: a LiveKit Agents worker that runs each call's pipeline and reports to Trunkline.

`trunkline agent` starts it (`worker.py`); each job's dispatch metadata (`dispatch.py`) becomes a
session configuration (`config.py`), provider plugins (`providers.py`) and an agent that speaks
to Trunkline's agent endpoints (`api_client.py`): the call's agent (`call_agent.py`) or the
screening agent of a warm transfer (`screening.py`).
"""
