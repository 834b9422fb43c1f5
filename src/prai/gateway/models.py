"""``GET /v1/models``: the models a key may use (routed models and aliases).

Adapters carry ``parent`` (their base model), as vLLM lists them; an alias appears under
its own name, with its current version's base as ``parent`` when that is an adapter.
"""

from __future__ import annotations

from typing import Any

from prai.errors import AuthenticationFailed, PraiError
from prai.gateway._asgi import send_error, send_json
from prai.gateway.admission import AdmissionStage, duplicate_authorization


async def list_models(adm: AdmissionStage, scope: dict[str, Any], send: Any) -> None:
    """Answer ``GET /v1/models`` for the request's key (401 without a valid key)."""
    try:
        auths = [v for k, v in scope["headers"] if k == b"authorization"]
        if len(auths) > 1:
            raise duplicate_authorization()
        key = await adm.keys.check(bytes(auths[0]) if auths else None)
        if (key.tenant, key.project) not in adm.projects:
            raise AuthenticationFailed(f"API key {key.id}: its project is no longer configured")
    except PraiError as exc:
        await send_error(send, exc)
        return
    allowed = adm.allowed[(key.tenant, key.project)]
    models = adm.router.models()
    for alias, route in adm.aliases.routes.items():
        cur = route.current
        if cur is not None:
            models.setdefault(alias, cur.base if cur.kind == "adapter" else None)
    data = []
    for name, parent in sorted(models.items()):
        version = adm.aliases.versions.get(name)
        if allowed is None or name in allowed or (version is not None and version.name in allowed):
            entry: dict[str, Any] = {
                "id": name,
                "object": "model",
                "created": 0,
                "owned_by": "prai",
            }
            if parent:
                entry["parent"] = parent
            data.append(entry)
    await send_json(send, 200, {"object": "list", "data": data})


__all__ = ["list_models"]
