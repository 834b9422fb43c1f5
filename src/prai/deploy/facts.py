"""Facts about the brought-in model and adapters, as ``prai render`` reads them.

From directories, :func:`prai.modelfiles.model_dir.read_model_facts` and
:func:`prai.modelfiles.adapter.read_adapter_facts` read config.json, adapter_config.json
and sizes (weight files may be absent on the machine that renders). From a bundle,
:func:`read_bundle_facts` builds the same records from its manifest.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from prai.errors import ModelFactsError
from prai.modelfiles.adapter import AdapterFacts
from prai.modelfiles.model_dir import ModelFacts, facts_from_config, read_json_object


def read_bundle_facts(bundle: Path) -> tuple[ModelFacts, dict[str, AdapterFacts]]:
    """Model and adapter facts from a ``prai bundle`` directory's manifest.

    Sizes come from the manifest (every file, present here or not); config.json is read
    from the bundle directory (a .tar must be unpacked first). Adapter facts are the
    manifest's (``rank``, ``base_model_name_or_path``, ``target_modules``), which the
    bundle recorded from each adapter_config.json.

    Raises:
        BundleError: no bundle or an invalid manifest (from prai.bundle.read_manifest).
        ModelFactsError: the manifest has no model, or config.json is not readable.
    """
    from prai.bundle import read_manifest

    manifest = read_manifest(bundle)
    if manifest.model is None:
        raise ModelFactsError(f"{bundle}: the bundle holds no model (role model)")
    if not bundle.is_dir():
        raise ModelFactsError(f"{bundle}: render reads config.json from a bundle directory; "
                              "unpack the .tar first (tar -xf)")
    mpath = manifest.model.path.strip("/")
    config = read_json_object(bundle / mpath / "config.json", "config.json")
    model_files = [f for f in manifest.files if f.role == "model"]
    weights = sum(f.size for f in model_files if f.path.endswith(".safetensors"))
    model = facts_from_config(bundle / mpath, config)
    names = {manifest.model.name, PurePosixPath(mpath).name}
    nop = config.get("_name_or_path")
    if isinstance(nop, str) and nop:
        names.add(nop)
    model.name = manifest.model.name
    model.names = tuple(sorted(n for n in names if n))
    model.weight_bytes = weights or None
    model.total_bytes = sum(f.size for f in model_files)
    adapters: dict[str, AdapterFacts] = {}
    for a in manifest.adapters:
        if not a.rank:
            continue
        prefix = a.path.strip("/") + "/"
        adapters[a.name] = AdapterFacts(
            name=a.name,
            path=bundle / a.path,
            rank=a.rank,
            alpha=a.lora_alpha,
            target_modules=sorted(a.target_modules),
            base_model_name=a.base_model_name_or_path,
            peft_type=a.peft_type,
            total_bytes=sum(f.size for f in manifest.files
                            if f.role == "adapter" and f.path.startswith(prefix)),
        )
    return model, adapters


def same_model(name: str, known: set[str]) -> bool:
    """Whether ``name`` (a hub id or a path) names one of ``known`` (ids, paths or basenames).

    Comparison is on the last path component, case-insensitive: ``/models/tsuzumi-7b``,
    ``nttcslab/tsuzumi-7b`` and ``tsuzumi-7b`` are the same model.
    """

    def base(s: str) -> str:
        return s.rstrip("/").rsplit("/", 1)[-1].lower()

    return base(name) in {base(k) for k in known if k}


__all__ = ["read_bundle_facts", "same_model"]
