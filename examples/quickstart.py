"""The README's quick start: the official Speko SDK (`pip install spekoai`) against Trunkline.

    TRUNKLINE_API_KEY=tk_... .venv/bin/python examples/quickstart.py

Creates an agent, routes a SIP-trunk number to it, places a call (the simulator's callee
answers), listens in from a browser's point of view, ends the call, and reads it back: its
events and its post-call report.
"""

import os
import time

from spekoai import Speko, SpekoApiError

OUR_NUMBER = "+14155550100"
TRUNK = "00000000-0000-4000-8000-000000000010"  # the simulator's SIP connection

speko = Speko(
    api_key=os.environ["TRUNKLINE_API_KEY"],
    base_url=os.environ.get("TRUNKLINE_URL", "http://127.0.0.1:8000"),
)

agent = speko.agents.create(
    {
        "name": "Front desk",
        "system_prompt": "You are the front-desk receptionist of {{company}}.",
        "intent": {"language": "en-US", "optimize_for": "latency"},
        "voice": "sophia",
    }
)
numbers = [n for n in speko.phone_numbers.list() if n.e164 == OUR_NUMBER]
number = numbers[0] if numbers else None
if number is None:
    number = speko.phone_numbers.import_sip_trunk(
        {
            "e164": OUR_NUMBER,
            "sip_connection_installation_id": TRUNK,
            "direction": "both",
            "agent_id": agent.id,
            "label": "Front desk",
        }
    )
print("agent", agent.id, "answers", number.e164)

call = speko.voice.dial(
    {
        "to": "+12015551234",
        "from": OUR_NUMBER,
        "agent_id": agent.id,
        "first_message": "Hi, this is Ava from {{company}}. Is now still a good time?",
        "variables": {"company": "Acme"},
        "metadata": {"campaignId": "renewal-q2", "leadId": "lead_456"},
    }
)
print("dialing", call.session_id, call.status)


def wait_for(*statuses: str) -> str:
    """Poll the call until it reaches one of `statuses` (a webhook would tell you instead)."""
    for _ in range(120):
        status = speko.calls.get(call.session_id).status
        if status in statuses:
            return status
        time.sleep(0.5)
    raise TimeoutError(f"call {call.session_id} never reached {statuses}")


if wait_for("in-progress", "ended", "failed") == "in-progress":
    while not speko.calls.get(call.session_id).transcript.entries:  # the agent's greeting
        time.sleep(0.5)
    joined = speko.calls.web_join(call.session_id, {"display_name": "Supervisor"})
    print("a browser could join", joined.room_name, "at", joined.url)
    print("ending:", speko.calls.end(call.session_id).status)
print("call", wait_for("ended", "failed"))
for event in speko.calls.events(call.session_id):
    print(" ", event.occurred_at, event.provider, event.event_type, event.status or "")

for _ in range(120):
    try:
        report = speko.calls.report(call.session_id)
        break
    except SpekoApiError as error:  # `report_not_ready` until the call has been analysed
        if error.code != "report_not_ready":
            raise
        time.sleep(0.5)
else:
    raise TimeoutError("no report")
print("report:", report.outcome, "-", report.summary)
print("cost:", int(report.cost_micro_usd) / 1_000_000, "USD")
