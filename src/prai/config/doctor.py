"""The ``doctor:`` section of kitchen.yaml: what ``prai doctor`` needs beyond the other sections.

Everything here is optional: without it, doctor checks what the ``cluster:`` and
``gateway:`` sections describe, from the brought-in copies they name. Format and
examples: ``docs/doctor.md``.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from prai.config._base import StrictModel


class DoctorConfig(StrictModel):
    """``doctor:`` in kitchen.yaml.

    Attributes:
        s3_prefix: key prefix where ``prai bundle load s3://BUCKET/PREFIX`` put the bundle in
            the Data Connection's bucket (its ``PREFIX/.prai-bundle.json`` lists the objects).
        model_dirs: cluster model name -> the model directory as seen where doctor runs
            (``/mnt/models`` inside the predictor pod; a PVC mount on a bastion). Default:
            the model's ``local_dir``, else ``BUNDLE/model``.
        endpoint: base URL of the endpoint to taste (the gateway Route or the predictor),
            e.g. ``https://llm.apps.kitchen.internal``; ``--endpoint`` overrides it.
        api_key_env: name of the environment variable holding a gateway API key (never the
            key itself); ``--api-key`` overrides it.
        serving_uid: the UID the serving container runs as (OpenShift assigns one from the
            namespace's range; group 0). Used for the read test of the model files.
    """

    s3_prefix: str | None = Field(default=None, pattern=r"^[A-Za-z0-9._/-]*$")
    model_dirs: dict[str, Path] = Field(default_factory=dict)
    endpoint: str | None = Field(default=None, pattern=r"^https?://[^/\s]+")
    api_key_env: str | None = Field(default=None, pattern=r"^[A-Z_][A-Z0-9_]*$")
    serving_uid: int = Field(default=1000680000, ge=1)


__all__ = ["DoctorConfig"]
