"""eval.classifier: the stratified item split and the dataset's category classifier."""

import numpy as np

from common.images import to_unit_range
from eval import classifier as classifier_lib
from metrics import quality
from tests.testlib.gan import two_category_dataset


def test_split_items_is_stratified():
    categories = np.array([0] * 10 + [1] * 5 + [2] * 1 + [-1] * 3)
    train, held = classifier_lib.split_items(categories, 0.2, seed=0)
    assert sorted(np.concatenate([train, held])) == list(range(16))
    assert np.bincount(categories[held], minlength=3).tolist() == [2, 1, 0]


def test_category_classifier_learns():
    ds = two_category_dataset(num_items=120)
    clf = classifier_lib.train_category_classifier(ds, 16, 1, epochs=3, batch_size=32, seed=0)
    assert clf.heldout_accuracy == 1.0
    assert len(clf.heldout_items) == 24 and len(clf.train_items) == 95
    images = to_unit_range(classifier_lib.real_images(ds, np.array([0, 1]), 16, 1))
    assert images.shape == (2, 16, 16, 1) and images.min() >= -1 and images.max() <= 1
    probs = quality.predict_probs(clf.model, images)
    np.testing.assert_allclose(probs.sum(1), 1.0, rtol=1e-5)
    assert list(probs.argmax(1)) == [0, 1]
