"""A stand-in for vLLM's OpenAI server entry point: `prai serve` without an engine.

`prai serve` runs it instead of vLLM when ``PRAI_VLLM_ENTRY=tests._support.fake_vllm`` (run
with ``python -m`` and vLLM's arguments; the repository root must be importable). What it
does, from its environment:

- ``FAKE_VLLM_START_S`` (default 0): seconds of "loading", then it serves on 127.0.0.1:--port
  as tests/_support/fake_openai.py does, listing ``--served-model-name`` and the
  ``--lora-modules`` adapters (JSON items, as `prai serve` passes them);
- ``FAKE_VLLM_EXIT=N``: print its lines and exit N at once;
- ``FAKE_VLLM_ON_STOP``: what SIGINT/SIGTERM do: ``traceback`` (default; as vLLM: a
  traceback and an error line on stderr, exit 1), ``ignore`` (it keeps running, so only the
  grace period's SIGKILL ends it);
- ``FAKE_VLLM_STOP_S``: seconds its shutdown takes in ``traceback`` mode;
- ``FAKE_VLLM_PIDFILE``: write its own pid there;
- ``FAKE_VLLM_CHILD_PIDFILE``: start a child in its process group that ignores SIGINT and
  SIGTERM (as an engine process may) and write the child's pid there.

It prints ``fake vllm: …`` on stdout and on stderr, so tests see what reaches the terminal.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import traceback
from pathlib import Path

from tests._support.fake_openai import FakeOpenAI

_CHILD = ("import os, signal, sys, time; signal.signal(signal.SIGINT, signal.SIG_IGN); "
          "signal.signal(signal.SIGTERM, signal.SIG_IGN); open(sys.argv[1], 'w').write(str(os.getpid())); "
          "time.sleep(600)")


def process_gone(pid: int, timeout_s: float = 5.0) -> bool:
    """True once ``pid`` has exited (a zombie counts: it no longer runs), within ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return True
        if state in ("Z", "X"):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--served-model-name", nargs="+", default=[])
    ap.add_argument("--port", type=int, default=8000)
    ap.add_argument("--lora-modules", nargs="+", default=[])
    a, _ = ap.parse_known_args()
    env = os.environ
    if env.get("FAKE_VLLM_EXIT"):
        sys.exit(int(env["FAKE_VLLM_EXIT"]))
    mode = env.get("FAKE_VLLM_ON_STOP", "traceback")

    def on_stop(signum: int, frame: object) -> None:
        print(f"fake vllm: got {signal.Signals(signum).name}", file=sys.stderr, flush=True)
        if mode != "ignore":
            raise KeyboardInterrupt("terminated")

    signal.signal(signal.SIGINT, on_stop)
    signal.signal(signal.SIGTERM, on_stop)
    if env.get("FAKE_VLLM_PIDFILE"):
        Path(env["FAKE_VLLM_PIDFILE"]).write_text(str(os.getpid()))
    if env.get("FAKE_VLLM_CHILD_PIDFILE"):
        pidfile = Path(env["FAKE_VLLM_CHILD_PIDFILE"])
        subprocess.Popen([sys.executable, "-c", _CHILD, str(pidfile)])
        while not pidfile.is_file() or not pidfile.read_text():
            time.sleep(0.02)
    print(f"fake vllm: INFO loading {a.model}", flush=True)  # once it can be stopped as configured
    print("fake vllm: WARNING this line is on stderr", file=sys.stderr, flush=True)
    served = a.served_model_name[0] if a.served_model_name else Path(a.model).name
    adapters = [json.loads(m)["name"] for m in a.lora_modules]
    try:
        time.sleep(float(env.get("FAKE_VLLM_START_S", "0")))
        print(f"fake vllm: INFO serving {served} on port {a.port}", flush=True)
        fake = FakeOpenAI(name=served, models=[(served, None), *((n, served) for n in adapters)])
        asyncio.run(fake.serve(a.port))
    except KeyboardInterrupt:
        time.sleep(float(env.get("FAKE_VLLM_STOP_S", "0")))
        traceback.print_exc()
        print("fake vllm: ERROR EngineCore died unexpectedly", file=sys.stderr, flush=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
