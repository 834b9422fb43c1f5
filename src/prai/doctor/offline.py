"""offline: nothing in the serving path reaches for the internet (seed §8, §14).

Checks: the runtime environment carries the offline variables (inside a pod: this
process's environment; for ``cluster:`` models: the ServingRuntime ``prai render``
produces; for ``prai up`` engines: ``prai serve`` forces them); the model is a local path
and no engine argument (``--model``, ``--tokenizer``, ``--chat-template``…) names a hub id
or URL; no ``auto_map`` in config.json / tokenizer_config.json points at code in another
hub repo (``org/repo--module.Class``). With ``--live``, a child process loads the
tokenizer and renders the chat template with ``HF_HUB_OFFLINE=1``, every proxy and
``HF_ENDPOINT`` pointing at a dead port and an empty ``HF_HOME``: success proves the files
on disk are enough.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from prai.doctor.plan import DoctorPlan
from prai.doctor.report import DoctorReport

AREA = "offline"
REQUIRED = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
_PATH_ARGS = ("--model", "--tokenizer", "--chat-template", "--download-dir", "--served-model-name")
_DEAD = "http://127.0.0.1:9"  # the discard port: nothing listens, every request is refused
LIVE_TIMEOUT_S = 180.0

_LIVE_SCRIPT = r"""
import sys
d = sys.argv[1]
try:
    from transformers import AutoTokenizer
except ImportError:
    from tokenizers import Tokenizer
    t = Tokenizer.from_file(d + "/tokenizer.json")
    print("tokenizers", len(t.encode("こんにちは").ids))
    raise SystemExit(0)
t = AutoTokenizer.from_pretrained(d, local_files_only=False)
n = len(t("こんにちは")["input_ids"])
tmpl = ""
if t.chat_template:
    tmpl = t.apply_chat_template([{"role": "user", "content": "こんにちは"}], tokenize=False)
print("transformers", n, len(tmpl))
"""


def _missing(env: dict[str, str] | object) -> list[str]:
    assert isinstance(env, dict)
    return [k for k, v in REQUIRED.items() if str(env.get(k, "")).strip().lower() not in (v, "true")]


def check_offline(plan: DoctorPlan, report: DoctorReport) -> None:
    """Add the offline checks (see the module docstring)."""
    _env_checks(plan, report)
    if not plan.models:
        report.add(AREA, "model path", "SKIP", "no model configured")
        return
    from prai.modelfiles.model_dir import looks_like_remote

    for m in plan.models:
        remote = []
        args = m.engine_args
        for i, a in enumerate(args):
            flag, _, val = a.partition("=")
            if flag in _PATH_ARGS and flag != "--served-model-name":
                val = val or (args[i + 1] if i + 1 < len(args) else "")
                if val and looks_like_remote(val) and not Path(val).exists():
                    remote.append(f"{flag} {val}")
        if remote:
            report.add(AREA, f"{m.name} args", "FAIL",
                       f"engine arguments name hub ids or URLs: {', '.join(remote)}",
                       "point them at local files brought in with the model (持ち込み); vLLM "
                       "would try to download them and fail offline")
        if not m.dir.is_absolute() and looks_like_remote(str(m.dir)) and not m.dir.exists():
            report.add(AREA, f"{m.name} --model", "FAIL", f"--model {m.dir} is a hub id",
                       "serve a local directory (/mnt/models/...)")
        elif m.dir.is_dir():
            report.add(AREA, f"{m.name} --model", "PASS", f"--model is the local directory {m.dir}")
            _hub_refs(m.name, m.dir, report)
            if plan.live:
                _live(m.name, m.dir, report)
        else:
            report.add(AREA, f"{m.name} --model", "FAIL", f"{m.dir}: no such directory",
                       "see the model checks (ls -lah /mnt/models)")


def _env_checks(plan: DoctorPlan, report: DoctorReport) -> None:
    env = dict(plan.env)
    if env.get("KUBERNETES_SERVICE_HOST"):
        miss = _missing(env)
        if miss:
            report.add(AREA, "pod env", "FAIL", f"this pod lacks {', '.join(miss)}",
                       "set TRANSFORMERS_OFFLINE=1, HF_HUB_OFFLINE=1, HF_DATASETS_OFFLINE=1 in the "
                       "ServingRuntime env (seed §8; prai render does)")
        else:
            report.add(AREA, "pod env", "PASS", "this pod sets " + ", ".join(f"{k}=1" for k in REQUIRED))
        if not env.get("HF_HOME"):
            report.add(AREA, "pod HF_HOME", "WARN", "HF_HOME is not set (caches go to $HOME/.cache)",
                       "set HF_HOME to a writable path on the PVC or an emptyDir (seed §8 Tips)")
    has_cluster = plan.kitchen is not None and plan.images
    if has_cluster:
        _rendered_env(plan, report)
    if any(m.source == "serve" for m in plan.models):
        from prai.engine.environment import OFFLINE_VARS

        forced = [k for k in REQUIRED if OFFLINE_VARS.get(k) == REQUIRED[k]]
        report.add(AREA, "prai serve env", "PASS" if len(forced) == len(REQUIRED) else "FAIL",
                   f"prai serve forces {', '.join(f'{k}=1' for k in forced)} on vLLM",
                   "" if len(forced) == len(REQUIRED) else "upgrade PrAI")
    if not env.get("KUBERNETES_SERVICE_HOST") and plan.kitchen is None:
        report.add(AREA, "runtime env", "SKIP",
                   "not inside a pod and no kitchen.yaml: run doctor in the serving pod "
                   "(oc rsh) to check its environment")


def _rendered_env(plan: DoctorPlan, report: DoctorReport) -> None:
    from prai.deploy import render
    from prai.errors import PraiError

    assert plan.kitchen is not None
    try:
        result = render(plan.kitchen, env=plan.env)
    except PraiError as exc:
        report.add(AREA, "runtime env", "WARN", f"cannot render the ServingRuntime: {exc.message}",
                   exc.hint)
        return
    for _file, obj in result.objects:
        if obj.get("kind") != "ServingRuntime":
            continue
        name = obj.get("metadata", {}).get("name", "?")
        containers = obj.get("spec", {}).get("containers", [])
        env = {e.get("name"): str(e.get("value", "")) for c in containers for e in c.get("env", [])}
        miss = _missing(env)
        if miss:
            report.add(AREA, f"runtime {name}", "FAIL", f"ServingRuntime {name} lacks {', '.join(miss)}",
                       "add them to the runtime env (seed §8)")
        else:
            report.add(AREA, f"runtime {name}", "PASS",
                       f"ServingRuntime {name} sets " + ", ".join(f"{k}=1" for k in REQUIRED))


def _hub_refs(name: str, d: Path, report: DoctorReport) -> None:
    refs = []
    for fname in ("config.json", "tokenizer_config.json", "processor_config.json"):
        try:
            data = json.loads((d / fname).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        auto = data.get("auto_map") if isinstance(data, dict) else None
        if isinstance(auto, dict):
            for v in auto.values():
                for item in v if isinstance(v, list) else [v]:
                    if isinstance(item, str) and ("--" in item or "://" in item):
                        refs.append(f"{fname} auto_map → {item}")
        tmpl = data.get("chat_template") if isinstance(data, dict) else None
        if isinstance(tmpl, str) and tmpl.startswith(("http://", "https://")):
            refs.append(f"{fname} chat_template → {tmpl}")
    if refs:
        report.add(AREA, f"{name} hub refs", "FAIL", "; ".join(refs[:3]),
                   "bring the referenced code/template into the model directory and drop the "
                   "'org/repo--' prefix (オフライン: it cannot be fetched)", refs=refs)
    else:
        report.add(AREA, f"{name} hub refs", "PASS",
                   "no tokenizer, chat-template or code reference to a hub repo")


def _live(name: str, d: Path, report: DoctorReport) -> None:
    with tempfile.TemporaryDirectory(prefix="prai-doctor-hf-") as home:
        env = {
            "PATH": "/usr/bin:/bin", "HOME": home, "HF_HOME": home,
            "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
            "HF_ENDPOINT": _DEAD, "HTTP_PROXY": _DEAD, "HTTPS_PROXY": _DEAD, "ALL_PROXY": _DEAD,
            "http_proxy": _DEAD, "https_proxy": _DEAD, "NO_PROXY": "", "no_proxy": "",
            "HF_HUB_DISABLE_TELEMETRY": "1", "TOKENIZERS_PARALLELISM": "false",
        }
        try:
            proc = subprocess.run([sys.executable, "-c", _LIVE_SCRIPT, str(d)], env=env,
                                  capture_output=True, text=True, timeout=LIVE_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            report.add(AREA, f"{name} live tokenizer", "FAIL",
                       f"loading the tokenizer took over {LIVE_TIMEOUT_S:.0f} s with the network blocked",
                       "something waits for the network: set the offline variables (seed §8)")
            return
    if proc.returncode == 0:
        lib, *nums = proc.stdout.split()
        report.add(AREA, f"{name} live tokenizer", "PASS",
                   f"{lib} loaded the tokenizer{' and chat template' if nums[1:] and nums[1] != '0' else ''} "
                   f"with the network blocked (「こんにちは」 = {nums[0]} tokens)")
    else:
        last = (proc.stderr.strip().splitlines() or ["(no output)"])[-1][:300]
        report.add(AREA, f"{name} live tokenizer", "FAIL",
                   f"loading the tokenizer offline failed: {last}",
                   "copy the missing tokenizer files into the model directory (外部依存が露見: "
                   "seed §8 Tips)")


__all__ = ["check_offline"]
