"""tests.testlib.dvbpr: the red-versus-blue dataset is what the DVBPR tests assume."""

import numpy as np

from tests.testlib.dvbpr import red_blue_dataset


def test_red_blue_dataset_is_what_it_claims():
    ds = red_blue_dataset()
    assert ds.images.pixels.shape == (60, 40, 40, 3)
    assert len(ds.train) == 160 and len(ds.validation) == len(ds.test) == 40
    red = ds.images.pixels[0::2].astype(float).mean(axis=(0, 1, 2))
    blue = ds.images.pixels[1::2].astype(float).mean(axis=(0, 1, 2))
    assert red[0] > red[2] + 60 and blue[2] > blue[0] + 60
    # Every purchase has the user's colour.
    for split in (ds.train, ds.validation, ds.test):
        assert np.all((split[:, 0] >= 20) == (split[:, 1] % 2 == 1))
    assert ds.true_scores(np.array([0, 39])).tolist()[0][:2] == [1.0, 0.0]
