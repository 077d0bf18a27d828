from __future__ import annotations

import numpy as np
import pytest

from reco_app.training.artifact import ArtifactError, load_artifact, save_artifact
from reco_app.training.data import prepare, settings_snapshot
from reco_app.training.params import TrainParams
from reco_app.training.pipeline import run, to_artifact
from tests.training.synthetic import UNTIL


@pytest.fixture
def trained(small_shop, fast_training):  # type: ignore[no-untyped-def]
    data = prepare(small_shop.event_arrays(), small_shop.catalog_arrays(), until=UNTIL, cfg=settings_snapshot())
    result = run(data, TrainParams.from_settings(), with_baselines=False)
    return data, result.model, to_artifact(result.model, data, {"test": True})


def test_scores_from_the_loaded_artifact_equal_the_model_predictions(trained) -> None:  # type: ignore[no-untyped-def]
    data, model, artifact = trained
    digest = save_artifact(artifact, "roundtrip")
    loaded = load_artifact("roundtrip", expected_sha256=digest)
    users = np.repeat(np.arange(len(data.user_keys), dtype=np.int32), len(data.item_keys))
    items = np.tile(np.arange(len(data.item_keys), dtype=np.int32), len(data.user_keys))
    expected = model.predict(users, items, item_features=data.item_features.matrix, num_threads=1)
    scores = (loaded.user_embeddings @ loaded.item_embeddings.T + loaded.user_biases[:, None] + loaded.item_biases[None, :])
    np.testing.assert_allclose(scores.ravel(), expected, rtol=1e-5, atol=1e-5)
    assert (np.argsort(-scores, axis=1, kind="stable")[:, :5] == np.argsort(-expected.reshape(scores.shape), axis=1, kind="stable")[:, :5]).mean() > 0.99
    assert list(loaded.item_keys) == [str(k) for k in data.item_keys]
    assert loaded.manifest["sha256"] == digest and loaded.manifest["test"] is True


def test_a_new_product_gets_its_vector_from_the_feature_embeddings(trained) -> None:  # type: ignore[no-untyped-def]
    data, _model, artifact = trained
    row = data.item_features.matrix[0]
    vector = row.data @ artifact.feature_embeddings[row.indices]
    np.testing.assert_allclose(vector, artifact.item_embeddings[0], rtol=1e-5, atol=1e-6)
    names = {str(artifact.feature_names[j]).split(":")[0] for j in row.indices}
    assert {"category", "brand", "price", "tag", "word"} <= names


def test_a_tampered_artifact_is_refused(trained, settings) -> None:  # type: ignore[no-untyped-def]
    _, _, artifact = trained
    save_artifact(artifact, "tampered")
    path = settings.MEDIA_ROOT / "reco_app/models/tampered.npz"
    payload = bytearray(path.read_bytes())
    payload[len(payload) // 2] ^= 0xFF
    path.write_bytes(bytes(payload))
    with pytest.raises(ArtifactError):
        load_artifact("tampered")


def test_a_product_added_after_training_gets_a_vector_near_its_category(trained, small_shop) -> None:  # type: ignore[no-untyped-def]
    from reco_app.datasets.catalog import CatalogIndex
    from reco_app.training.cold import embed_items

    _data, _, artifact = trained
    known = small_shop.catalog[0]
    new = CatalogIndex.from_rows([{**known, "product_key": "BRAND-NEW"}, known])
    emb, _bias = embed_items(artifact, new)
    index = artifact.item_index()
    np.testing.assert_allclose(emb[1], artifact.item_embeddings[index[known["product_key"]]], rtol=1e-5, atol=1e-6)
    unit = artifact.item_embeddings / np.linalg.norm(artifact.item_embeddings, axis=1, keepdims=True)
    cosine = unit @ (emb[0] / np.linalg.norm(emb[0]))
    same = np.array([r["category"] == known["category"] for r in small_shop.catalog])
    order = [index[r["product_key"]] for r in small_shop.catalog]
    assert cosine[order][same].mean() > cosine[order][~same].mean() + 0.2
