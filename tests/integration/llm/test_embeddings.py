"""fti.embed: the MiniLM model shipped by a PyPI package, loaded offline, batched and L2-normalised."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import fti
import fti.llm
from fti.errors import ValidationError
from fti.llm.embeddings import EMBEDDING_DIMENSION, embedding_dimension

pytestmark = pytest.mark.xdist_group("llm")

TEXTS = [
    "a card payment abroad",
    "A card payment made in another country.",
    "the refund of a cancelled order",
    "Return the sum of a and b. " * 40,  # longer than the model's 256 tokens: truncated, not an error
    "",
]


def test_embed_gives_unit_float32_rows_in_input_order_whatever_the_batching() -> None:
    vectors = fti.embed(TEXTS, batch_size=2)
    assert vectors.shape == (len(TEXTS), EMBEDDING_DIMENSION) == (5, embedding_dimension())
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    one_by_one = np.vstack([fti.embed([text]) for text in TEXTS])
    np.testing.assert_allclose(vectors, one_by_one, atol=1e-5)
    np.testing.assert_array_equal(fti.embed(pd.Series(TEXTS), batch_size=2), vectors)  # deterministic
    similarity = vectors @ vectors.T
    # paraphrases are nearer each other than to an unrelated sentence
    assert similarity[0, 1] > 0.6 > similarity[0, 2]


def test_embed_of_no_texts_is_an_empty_matrix() -> None:
    assert fti.embed([]).shape == (0, EMBEDDING_DIMENSION)


@pytest.mark.parametrize(
    ("texts", "message"),
    [
        ("one string", r"pass \[text\]"),
        (["fine", None], r"position 1 is NoneType"),
        (["fine", 3], r"position 1 is int"),
    ],
)
def test_embed_names_what_is_not_text(texts: object, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        fti.embed(texts)  # type: ignore[arg-type]


def test_embed_refuses_a_folder_without_a_model_and_a_missing_package(tmp_path: object) -> None:
    with pytest.raises(fti.errors.NotFoundError, match="holds no config.json"):
        fti.embed(["x"], model=str(tmp_path))
    with pytest.raises(fti.errors.NotFoundError, match="No installed package 'not-a-model-package'"):
        fti.embed(["x"], model="package:not-a-model-package")


def test_add_embedding_feeds_a_vector_column_that_text_queries_search(project: fti.Project) -> None:
    docs = project.create_feature_group("docs", primary_key=["doc_id"], event_time="ts", online=True)
    bodies = [
        "How do I get my money back for a cancelled order?",
        "The card was declined at a shop abroad.",
        "Change the delivery address of a parcel.",
        None,  # no text: no vector
    ]
    frame = pd.DataFrame(
        {
            "doc_id": range(len(bodies)),
            "ts": pd.Timestamp("2026-01-01", tz="UTC"),
            "body": bodies,
        }
    )
    docs.insert(frame, transform=fti.llm.add_embedding("body", into="embedding"))
    stored = docs.read().sort_values("doc_id")
    assert stored["embedding"].iloc[3] is None
    np.testing.assert_allclose(np.stack(stored["embedding"].iloc[:3].to_list()), fti.embed(bodies[:3]), atol=1e-6)
    for online in (True, False):
        found = docs.find_neighbors("refund for an order I cancelled", k=2, online=online)
        assert found["doc_id"].tolist()[0] == 0
        assert list(found.columns) == ["doc_id", "body", "score"]
    with pytest.raises(ValidationError, match="no text column 'title'"):
        docs.insert(frame, transform=fti.llm.add_embedding("title"))
