"""Test-time augmentation: window-wise averaging equals averaging whole-image transforms."""

import numpy as np
import pytest

from napari_greentea.predict import predict_image
from napari_greentea.tta import DihedralAverage


def _predictor():
    from napari_greentea.backend import get_backend
    from napari_greentea.models import dense_graph, preset
    from napari_greentea.weights import init_weights

    graph = dense_graph(preset("u", depth=1, base_fmaps=4))
    return get_backend("torch-cpu").build(graph, init_weights(graph, 5)), graph


def test_windowed_tta_equals_the_mean_over_transformed_images():
    predictor, graph = _predictor()
    image = np.random.default_rng(0).random((70, 70)).astype(np.float32)
    got = predict_image(DihedralAverage(predictor, graph), graph, image, block=32)
    want = np.zeros_like(got)
    for k in range(4):
        for flip in (False, True):
            x = np.rot90(image, k)
            x = x[:, ::-1] if flip else x
            p = predict_image(predictor, graph, np.ascontiguousarray(x), block=32)
            p = p[..., ::-1] if flip else p
            want += np.rot90(p, -k, axes=(-2, -1)) / 8
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    plain = predict_image(predictor, graph, image, block=32)
    assert not np.allclose(got, plain, atol=1e-4)  # the orientations really differ
    np.testing.assert_allclose(got.sum(0), 1, rtol=1e-5)


def test_odd_context_is_refused():
    predictor, graph = _predictor()

    class Odd:
        context = graph.context + 1

    with pytest.raises(ValueError, match="symmetric context"):
        DihedralAverage(predictor, Odd())
