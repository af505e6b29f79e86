"""Embedders: normalised float32 rows, the process-wide MiniLM, model folders."""

import numpy as np
import pytest

from core.platform.config import Settings
from core.platform.embeddings import (
    MINILM_MODEL_ID,
    HashingEmbedder,
    MiniLMEmbedder,
    get_embedder,
    normalise,
)
from core.platform.errors import ValidationError
from core.platform.services import Embedder


def test_hashing_embedder_is_deterministic_and_normalised():
    emb = HashingEmbedder(dim=64)
    a = emb.encode(["Travel fee to Napa", "travel fee to napa", "vegetarian tofu"])
    assert a.dtype == np.float32 and a.shape == (3, 64)
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0)
    assert np.allclose(a[0], a[1]) and float(a[0] @ a[2]) < 0.5
    assert emb.encode([]).shape == (0, 64)
    assert isinstance(emb, Embedder) and emb.model_id == "hashing-bow-64"


def test_normalise_keeps_zero_rows():
    out = normalise(np.array([[3.0, 4.0], [0.0, 0.0]]))
    assert np.allclose(out, [[0.6, 0.8], [0.0, 0.0]]) and out.dtype == np.float32


def test_a_folder_without_a_model_is_refused(tmp_path):
    with pytest.raises(ValidationError, match="No sentence-transformers model"):
        MiniLMEmbedder(tmp_path)


@pytest.mark.slow
def test_minilm_is_loaded_once_and_ranks_paraphrases(minilm):
    assert get_embedder(Settings(_env_file=None)) is minilm
    assert minilm.model_id == MINILM_MODEL_ID and minilm.dim == 384
    v = minilm.encode(["How much is it per person?", "What is the price per guest?", "Do you bring a grill?"])
    assert v.shape == (3, 384) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert float(v[0] @ v[1]) > float(v[0] @ v[2])
    assert minilm.encode([]).shape == (0, 384)
