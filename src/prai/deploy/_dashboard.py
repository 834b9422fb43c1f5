"""The kitchen's Grafana dashboard (JSON model, schemaVersion 39).

Panels read the gateway's metrics (``prai_gateway_*``, see prai.gateway.metrics) and
vLLM's (``vllm:*``): request rate and error rate by project, TTFT p50/p95, end-to-end
latency p95, tokens/s, vLLM queue depth and KV cache usage (seed §15: GPU, latency,
error rate).
"""

from __future__ import annotations

from typing import Any

_PANELS = (
    ("Requests/s by project", "sum by (tenant, project) (rate(prai_gateway_requests_total[5m]))",
     "reqps"),
    ("Error rate (5xx)",
     'sum(rate(prai_gateway_requests_total{status=~"5.."}[5m])) / '
     "clamp_min(sum(rate(prai_gateway_requests_total[5m])), 1e-9)", "percentunit"),
    ("TTFT p95 by model",
     "histogram_quantile(0.95, sum by (le, model) "
     "(rate(prai_gateway_time_to_first_token_seconds_bucket[5m])))", "s"),
    ("TTFT p50 by model",
     "histogram_quantile(0.5, sum by (le, model) "
     "(rate(prai_gateway_time_to_first_token_seconds_bucket[5m])))", "s"),
    ("E2E latency p95 by model",
     "histogram_quantile(0.95, sum by (le, model) "
     "(rate(prai_gateway_e2e_request_latency_seconds_bucket[5m])))", "s"),
    ("Generated tokens/s by project",
     "sum by (tenant, project) (rate(prai_gateway_generation_tokens_total[5m]))", "short"),
    ("Rate-limit rejections/s", "sum by (tenant, project) "
     "(rate(prai_gateway_ratelimit_rejections_total[5m]))", "reqps"),
    ("vLLM requests waiting", "sum by (namespace, model_name) (vllm:num_requests_waiting)",
     "short"),
    ("vLLM requests running", "sum by (namespace, model_name) (vllm:num_requests_running)",
     "short"),
    ("vLLM KV cache usage", "max by (namespace, model_name) (vllm:kv_cache_usage_perc)",
     "percentunit"),
    ("Upstream healthy replicas", "sum by (upstream) (prai_gateway_upstream_healthy)", "short"),
)


def dashboard_json() -> dict[str, Any]:
    """The dashboard as a dict (deterministic: same output every call)."""
    panels = []
    for i, (title, expr, unit) in enumerate(_PANELS):
        panels.append({
            "id": i + 1,
            "type": "timeseries",
            "title": title,
            "datasource": {"type": "prometheus", "uid": "${datasource}"},
            "gridPos": {"h": 8, "w": 12, "x": (i % 2) * 12, "y": (i // 2) * 8},
            "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
            "targets": [{"refId": "A", "expr": expr, "legendFormat": "__auto"}],
        })
    return {
        "title": "PrAI kitchen",
        "uid": "prai-kitchen",
        "schemaVersion": 39,
        "version": 1,
        "editable": False,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "tags": ["prai", "vllm", "llm"],
        "templating": {"list": [{
            "name": "datasource", "type": "datasource", "query": "prometheus",
            "label": "Prometheus",
        }]},
        "panels": panels,
    }


__all__ = ["dashboard_json"]
