"""The whole stack as separate processes, wired like `make run` in sandbox mode (emulators for Telegram, Kie)."""

from __future__ import annotations

from dataclasses import dataclass, field

from tests.support.emulators import TelegramControl, TelegramEmulator
from tests.support.kie import KieEmulatorControl, start_emulator_process
from tests.support.ports import free_port
from tests.support.processes import ServiceProcess

STACK_TOKEN = "123456789:STACKtoken-e2e-000000000000000000"
STACK_WEBHOOK_SECRET = "stack-webhook-secret-0123456789"
STACK_KIE_KEY = "stack-kie-key-0123456789abcdef"
STACK_CALLBACK_TOKEN = "stack-callback-token-0123456789"


@dataclass
class Stack:
    telegram: TelegramEmulator
    kie_process: ServiceProcess
    kie_url: str
    gateway: ServiceProcess
    dispatcher: ServiceProcess
    imagegen: ServiceProcess
    gateway_url: str
    dispatcher_url: str = ""
    imagegen_url: str = ""
    processes: list[ServiceProcess] = field(default_factory=list)

    @property
    def user(self) -> TelegramControl:
        return self.telegram.control(STACK_TOKEN)

    def kie(self) -> KieEmulatorControl:
        return KieEmulatorControl(self.kie_url)

    def logs(self) -> str:
        return "\n".join(p.logs() for p in self.processes)

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.__exit__(None, None, None)


def start_stack(nats_url: str, *, extra_env: dict[str, str] | None = None, generation_seconds: str = "1") -> Stack:
    """Start emulators, then gateway, dispatcher and imagegen; return once all answer /readyz."""
    telegram = TelegramEmulator("--no-set-webhook-rate-limit").start()
    kie_process, kie_url = start_emulator_process(generation_seconds=generation_seconds)
    gateway_port, dispatcher_port, imagegen_port = free_port(), free_port(), free_port()
    gateway_url = f"http://127.0.0.1:{gateway_port}"
    common = {
        "NATS_URL": nats_url,
        "TELEGRAM_BOT_TOKEN": STACK_TOKEN,
        "TELEGRAM_API_URL": telegram.url,
        "LOG_LEVEL": "INFO",
        **(extra_env or {}),
    }
    gateway = ServiceProcess(
        "imagebot_gateway",
        {
            **common,
            "BOT_MODE": "webhook",
            "WEBHOOK_BASE_URL": gateway_url,
            "WEBHOOK_SECRET_TOKEN": STACK_WEBHOOK_SECRET,
            "KIE_CALLBACK_TOKEN": STACK_CALLBACK_TOKEN,
            "HOST": "127.0.0.1",
            "PORT": str(gateway_port),
        },
        name="gateway",
    )
    dispatcher = ServiceProcess(
        "imagebot_dispatcher",
        {**common, "HEALTH_HOST": "127.0.0.1", "HEALTH_PORT": str(dispatcher_port)},
        name="dispatcher",
    )
    imagegen = ServiceProcess(
        "imagebot_imagegen",
        {
            **common,
            "KIE_API_KEY": STACK_KIE_KEY,
            "KIE_API_URL": kie_url,
            "KIE_CALLBACK_BASE_URL": gateway_url,
            "KIE_CALLBACK_TOKEN": STACK_CALLBACK_TOKEN,
            "KIE_POLL_INITIAL_SECONDS": "0.5",
            "HEALTH_HOST": "127.0.0.1",
            "HEALTH_PORT": str(imagegen_port),
        },
        name="imagegen",
    )
    stack = Stack(
        telegram,
        kie_process,
        kie_url,
        gateway,
        dispatcher,
        imagegen,
        gateway_url,
        dispatcher_url=f"http://127.0.0.1:{dispatcher_port}",
        imagegen_url=f"http://127.0.0.1:{imagegen_port}",
    )
    stack.processes = [telegram, kie_process, gateway, dispatcher, imagegen]
    try:
        for process in (gateway, dispatcher, imagegen):
            process.start()
        gateway.wait_http_ok(f"{gateway_url}/readyz", timeout=30)
        dispatcher.wait_http_ok(f"http://127.0.0.1:{dispatcher_port}/readyz", timeout=30)
        imagegen.wait_http_ok(f"http://127.0.0.1:{imagegen_port}/readyz", timeout=30)
    except BaseException:
        stack.stop()
        raise
    return stack
