"""A real nats-server with JetStream file storage in a temporary directory, read through its monitoring port."""

from __future__ import annotations

import json
import shutil
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from bench import procs

NATS_SERVER = Path(procs.PYTHON).parent / "nats-server"


@dataclass
class NatsServer:
    proc: procs.Proc
    port: int
    monitor_port: int
    store: Path

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def stream_messages(self, stream: str) -> int:
        """Messages stored in `stream` now (0 if it does not exist)."""
        url = f"http://127.0.0.1:{self.monitor_port}/jsz?streams=true"
        with urllib.request.urlopen(url, timeout=5) as response:
            data = json.load(response)
        for account in data.get("account_details") or []:
            for detail in account.get("stream_detail") or []:
                if detail.get("name") == stream:
                    return int(detail["state"]["messages"])
        return 0

    def stop(self) -> None:
        self.proc.stop()
        shutil.rmtree(self.store, ignore_errors=True)


def start_nats(name: str = "nats-server", cores: str | None = procs.LOAD_CORE) -> NatsServer:
    port, monitor = procs.free_port(), procs.free_port()
    store = Path(tempfile.mkdtemp(prefix="bench-nats-"))
    argv = [str(NATS_SERVER), "-a", "127.0.0.1", "-p", str(port), "-m", str(monitor), "-js", "-sd", str(store)]
    proc = procs.start(name, argv, procs.clean_env(), cores=cores)
    procs.wait_http_ok(proc, f"http://127.0.0.1:{monitor}/healthz?js-enabled-only=true")
    return NatsServer(proc, port, monitor, store)


def version() -> str:
    import subprocess

    out = subprocess.run([str(NATS_SERVER), "--version"], capture_output=True, text=True, check=False)
    return out.stdout.strip() or out.stderr.strip()
