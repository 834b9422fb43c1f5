"""Every error a client gets from the gateway is the OpenAI envelope with a hint: upstream
4xx answers (an embeddings-only server asked for a chat completion, a refused parameter),
a key this gateway has never seen (issue 18, items 2 and 5), and a wrong path or method
(the right one named)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from openai import NotFoundError, OpenAI

from tests.gateway._gwutil import FakeUpstream, Gateway, http_json


@pytest.fixture(scope="module")
def pooling_upstream() -> Iterator[FakeUpstream]:
    up = FakeUpstream("pool", "minilm", pooling=True)
    yield up
    up.stop()


def test_chat_to_an_embeddings_only_model(
    make_gateway: Callable[..., Gateway], pooling_upstream: FakeUpstream, fake_upstream: FakeUpstream
) -> None:
    gw = make_gateway(
        {
            "upstreams": [
                {"name": "pool", "base_urls": [pooling_upstream.url]},
                {"name": "main", "base_urls": [fake_upstream.url]},
            ],
            "tenants": [{"name": "acme", "projects": [{"name": "rag"}]}],
        }
    ).start()
    key = gw.key("acme", "rag")
    st, headers, body = http_json(
        gw.v1("/chat/completions"), {"model": "minilm", "messages": [{"role": "user", "content": "hi"}]}, key=key
    )
    assert st == 404 and headers["content-type"] == "application/json"
    err = body["error"]
    assert err["type"] == "not_found_error" and err["code"] == 404
    assert "model serves embeddings only: use /v1/embeddings" in err["message"]
    assert "`minilm` does not serve /v1/chat/completions" in err["message"]
    assert pooling_upstream.url not in str(body) and "pool" not in err["message"].replace("minilm", "")
    # the openai SDK reads it as a NotFoundError with that message
    client = OpenAI(base_url=gw.url + "/v1", api_key=key, max_retries=0)
    with pytest.raises(NotFoundError) as exc:
        client.completions.create(model="minilm", prompt="hi")
    assert "use /v1/embeddings" in str(exc.value)
    assert client.embeddings.create(model="minilm", input="hi").data[0].embedding
    # a refused parameter keeps the upstream's message and gains a hint
    st, _, body = http_json(
        gw.v1("/chat/completions"), {"model": "fake", "messages": [{"role": "user", "content": "BADPARAM"}]},
        key=key,
    )
    assert st == 400 and body["error"]["type"] == "invalid_request_error"
    assert body["error"]["message"].startswith("temperature must be >= 0 (hint: ")


def test_unknown_key_hints_at_another_store(
    make_gateway: Callable[..., Gateway], fake_upstream: FakeUpstream
) -> None:
    gw = make_gateway(
        {
            "upstreams": [{"name": "main", "base_urls": [fake_upstream.url]}],
            "tenants": [{"name": "acme", "projects": [{"name": "rag"}]}],
        }
    ).start()
    st, _, body = http_json(gw.v1("/models"), key="sk-prai-0123456789_" + "x" * 43)
    assert st == 401 and body["error"]["type"] == "authentication_error"
    assert "never seen" in body["error"]["message"] and "made for another store?" in body["error"]["message"]


@pytest.mark.parametrize(("method", "path", "status", "message"), [
    ("POST", "/chat/completions", 404,
     "no route /chat/completions (hint: the OpenAI API is under /v1: /v1/chat/completions)"),
    ("POST", "/v1/chat/completion", 404, "no route /v1/chat/completion (hint: did you mean /v1/chat/completions?)"),
    ("POST", "/v2/things", 404, "no route /v2/things (hint: the API paths are /v1/chat/completions, "),
    ("GET", "/v1/chat/completions", 405, "GET is not allowed on /v1/chat/completions (hint: use POST)"),
    ("POST", "/v1/models", 405, "POST is not allowed on /v1/models (hint: use GET)"),
])
def test_wrong_path_or_method_names_the_right_one(
    make_gateway: Callable[..., Gateway], fake_upstream: FakeUpstream, method: str, path: str, status: int,
    message: str,
) -> None:
    gw = make_gateway({"upstreams": [{"name": "main", "base_urls": [fake_upstream.url]}],
                       "tenants": [{"name": "acme", "projects": [{"name": "rag"}]}]}).start()
    st, _, body = http_json(gw.url + path, {} if method == "POST" else None, method=method)
    err = body["error"]
    assert st == status and err["code"] == status, err
    assert err["message"].startswith(message), err
