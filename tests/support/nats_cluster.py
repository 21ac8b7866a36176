"""A three-node (or N-node) JetStream cluster of real nats-server processes on loopback."""

from __future__ import annotations

import time

import httpx

from tests.support.nats_server import NatsServer
from tests.support.ports import free_port


class NatsCluster:
    """`nodes[i]` is a `NatsServer` named n<i+1>; each routes to all the others; `urls` lists every client URL."""

    def __init__(self, size: int = 3, name: str = "c") -> None:
        cluster_ports = [free_port() for _ in range(size)]
        self.nodes: list[NatsServer] = []
        for index, port in enumerate(cluster_ports):
            routes = ",".join(f"nats://127.0.0.1:{p}" for p in cluster_ports if p != port)
            args = ["--cluster", f"nats://127.0.0.1:{port}", "--routes", routes, "--cluster_name", name]
            args += ["--server_name", f"n{index + 1}"]
            self.nodes.append(NatsServer(extra_args=args))

    @property
    def urls(self) -> str:
        return ",".join(node.url for node in self.nodes)

    def node(self, server_name: str) -> NatsServer:
        return self.nodes[int(server_name.lstrip("n")) - 1]

    def start(self, timeout: float = 30.0) -> NatsCluster:
        for node in self.nodes:
            node.start()
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Every running node is healthy (JetStream current with an elected meta leader)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(self._healthy(node) for node in self.nodes if node.running):
                return
            time.sleep(0.2)
        raise RuntimeError("NATS cluster not ready: " + " | ".join(n.log_path.read_text()[-800:] for n in self.nodes))

    @staticmethod
    def _healthy(node: NatsServer) -> bool:
        try:
            base = f"http://127.0.0.1:{node.monitor_port}"
            if httpx.get(f"{base}/healthz", timeout=1).status_code != 200:
                return False
            return bool(httpx.get(f"{base}/jsz", timeout=1).json().get("meta_cluster", {}).get("leader"))
        except httpx.HTTPError:
            return False

    def cleanup(self) -> None:
        for node in self.nodes:
            node.cleanup()

    def __enter__(self) -> NatsCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.cleanup()
