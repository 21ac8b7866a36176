"""The whole stack for chaos runs: `start_stack` plus extra dispatcher replicas, pids and health probes."""

from __future__ import annotations

import httpx

from tests.support.ports import free_port
from tests.support.processes import ServiceProcess
from tests.support.stack import STACK_TOKEN, Stack

BOT_ID = int(STACK_TOKEN.split(":")[0])

# Faster failover than production (ack_wait 30 s, pin timeout 6 s) so a run takes seconds, not minutes;
# the mechanism under test is the same.
FAST_FAILOVER = {"CONSUMER_ACK_WAIT": "5", "CONSUMER_PIN_TIMEOUT": "2"}


def health_url(process: ServiceProcess) -> str:
    """Where a service answers /healthz, /readyz, /health and /metrics."""
    port = process.env.get("HEALTH_PORT") or process.env["PORT"]
    return f"http://127.0.0.1:{port}"


def services(stack: Stack) -> list[ServiceProcess]:
    """Our own services (gateway, dispatchers, imagegen), without the emulators."""
    return [p for p in stack.processes if p.module.startswith("imagebot_") and "emulators" not in p.module]


def add_dispatcher_replica(stack: Stack, name: str = "dispatcher-2") -> ServiceProcess:
    """A second dispatcher with the first one's configuration and its own health port; stopped with the stack."""
    env = {**stack.dispatcher.env, "HEALTH_PORT": str(free_port())}
    replica = ServiceProcess("imagebot_dispatcher", env, name=name)
    stack.processes.append(replica)
    replica.start()
    replica.wait_http_ok(f"{health_url(replica)}/readyz", timeout=30)
    return replica


class ServiceExited(RuntimeError):
    """One of our services stopped during a chaos run that never stops it (not an AssertionError, so that
    `wait_until` gives up at once instead of waiting out its timeout)."""


def exited(stack: Stack) -> dict[str, int]:
    """Our services that are no longer running, with their exit codes."""
    return {p.name: code for p in services(stack) if (code := p.returncode) is not None}


def assert_still_running(stack: Stack) -> None:
    """A service that exited mid-run explains everything after it (e.g. no gateway: no update is stored, so
    nothing is handled and nobody is answered), so say that instead of what it caused."""
    gone = exited(stack)
    if gone:
        tails = "\n".join(f"--- {p.name}:\n{p.logs()[-1500:]}" for p in services(stack) if p.name in gone)
        raise ServiceExited(f"exited during the run: {gone} (exit codes)\n{tails}")


def health(process: ServiceProcess) -> dict:
    return httpx.get(f"{health_url(process)}/health", timeout=5).json()


def all_ready(stack: Stack) -> bool:
    try:
        return all(httpx.get(f"{health_url(p)}/readyz", timeout=2).status_code == 200 for p in services(stack))
    except httpx.HTTPError:
        return False


def dispatcher_logs(stack: Stack) -> list[str]:
    """The logs of every dispatcher process the stack ran (restarted ones append to the same file)."""
    return [p.logs() for p in stack.processes if p.module == "imagebot_dispatcher"]
