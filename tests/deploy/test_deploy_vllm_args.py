"""The rendered runtime + InferenceService arguments parse with vLLM's own argument parser."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from prai.deploy import render
from tests.deploy._deploy_util import EXAMPLES

_PARSE = r"""
import json, sys
from vllm.entrypoints.launchers.cli_args import make_arg_parser
from vllm.utils.argparse_utils import FlexibleArgumentParser
ns = make_arg_parser(FlexibleArgumentParser()).parse_args(json.loads(sys.argv[1]))
print(json.dumps({
    "model": ns.model, "served": ns.served_model_name, "enable_lora": ns.enable_lora,
    "max_lora_rank": ns.max_lora_rank, "max_loras": ns.max_loras,
    "max_model_len": ns.max_model_len, "max_num_seqs": ns.max_num_seqs,
    "lora": [[m.name, m.path, m.base_model_name] for m in (ns.lora_modules or [])],
}))
"""


@pytest.mark.engine
def test_vllm_parses_rendered_args(crd_dir: Path, no_network_env: dict[str, str]) -> None:
    if importlib.util.find_spec("vllm") is None:
        pytest.skip("the cpu extra (vLLM) is not installed")
    result = render(EXAMPLES / "kitchen-cluster.yaml", crd_dir=crd_dir, env={})
    objs = {o["kind"]: o for _, o in result.objects}
    args = (objs["ServingRuntime"]["spec"]["containers"][0]["args"]
            + objs["InferenceService"]["spec"]["predictor"]["model"]["args"])
    out = subprocess.run([sys.executable, "-c", _PARSE, json.dumps(args)], env=no_network_env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    ns = json.loads(out.stdout.strip().splitlines()[-1])
    assert ns == {
        "model": "/mnt/models", "served": ["tsuzumi-7b"], "enable_lora": True,
        "max_lora_rank": 64, "max_loras": 2, "max_model_len": 4096, "max_num_seqs": 16,
        "lora": [["legal", "/mnt/models/adapters/legal", "tsuzumi-7b"],
                 ["support", "/mnt/models/adapters/support", "tsuzumi-7b"]],
    }
