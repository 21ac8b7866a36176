"""Closed-loop saturation with wrk (Debian's package, installed by the bench when missing) and a Lua script
that gives every request a unique update_id and a chat from a pool, in the same body shape as bench.updates."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from bench import procs, updates

_MARKER = "BENCH-JSON "

_SCRIPT = """
local counter = 0
local base, chats, first_chat = 0, 1, 0
local template = [==[%(template)s]==]
local headers = {
  ["Content-Type"] = "application/json",
  ["X-Telegram-Bot-Api-Secret-Token"] = "%(secret)s",
}
local path = "%(path)s"

function init(args)
  base = tonumber(args[1]); chats = tonumber(args[2]); first_chat = tonumber(args[3])
end

function request()
  counter = counter + 1
  local uid = base + counter
  local cid = first_chat + (uid %% chats)
  local body = string.format(template, uid, uid %% 1000000 + 1, cid, cid, cid, cid)
  return wrk.format("POST", path, headers, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "%(marker)s{\\"requests\\": %%d, \\"duration_us\\": %%d, \\"connect\\": %%d, \\"read\\": %%d, \\"write\\": %%d, " ..
    "\\"status\\": %%d, \\"timeout\\": %%d, \\"p50_us\\": %%d, \\"p99_us\\": %%d, \\"max_us\\": %%d}\\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"""


def ensure_wrk() -> str:
    """The wrk binary; installed from Debian's packages (we run as root) when it is missing."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0:
        raise RuntimeError("wrk is missing and the bench is not root: apt-get install -y wrk")
    print("bench: installing wrk (apt-get install -y wrk)", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=False, env=env, capture_output=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, env=env, capture_output=True)
    found = shutil.which("wrk")
    if not found:
        raise RuntimeError("apt-get install wrk did not provide a wrk binary")
    return found


def version() -> str:
    binary = shutil.which("wrk")
    if not binary:
        return "not installed"
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False)
    return (out.stdout or out.stderr).splitlines()[0].strip()


def write_script(path: str = updates.WEBHOOK_PATH) -> Path:
    procs.RESULTS.mkdir(parents=True, exist_ok=True)
    script = procs.RESULTS / "webhook.lua"
    values = {"template": updates.lua_template(), "secret": updates.WEBHOOK_SECRET, "path": path, "marker": _MARKER}
    script.write_text(_SCRIPT % values)
    return script


@dataclass(frozen=True)
class WrkResult:
    requests: int
    duration: float
    non_2xx: int
    socket_errors: int
    p50: float
    p99: float
    max: float
    cpu_share: float

    @property
    def ok(self) -> int:
        return max(0, self.requests - self.non_2xx - self.socket_errors)

    @property
    def rate(self) -> float:
        return self.ok / self.duration if self.duration else 0.0

    def as_dict(self) -> dict[str, float]:
        return {**self.__dict__, "ok": self.ok, "rate": self.rate}


def run_wrk(port: int, *, duration: float, connections: int, first_update_id: int, chats: int = 10_000) -> WrkResult:
    """One closed-loop run (1 thread, pinned to the load core); CPU share from the child's rusage."""
    script = write_script()
    argv = [*procs.pinned(procs.LOAD_CORE), ensure_wrk(), "-t1", f"-c{connections}", f"-d{duration:.0f}s",
            "--timeout", "10s", "-s", str(script), f"http://127.0.0.1:{port}{updates.WEBHOOK_PATH}",
            "--", str(first_update_id), str(chats), str(updates.FIRST_USER_ID)]  # fmt: skip
    before = os.times()
    out = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=duration + 60)
    after = os.times()
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith(_MARKER)), None)
    if line is None:
        raise RuntimeError(f"wrk gave no result (exit {out.returncode}):\n{out.stdout}\n{out.stderr}")
    data = json.loads(line[len(_MARKER) :])
    seconds = data["duration_us"] / 1e6
    return WrkResult(
        requests=data["requests"],
        duration=seconds,
        non_2xx=data["status"],
        socket_errors=data["connect"] + data["read"] + data["write"] + data["timeout"],
        p50=data["p50_us"] / 1e6,
        p99=data["p99_us"] / 1e6,
        max=data["max_us"] / 1e6,
        cpu_share=cpu / seconds if seconds else 0.0,
    )
