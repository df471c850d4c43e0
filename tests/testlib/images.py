"""Synthetic test images shared by the metric and report tests."""

import numpy as np


def smooth_noise_images(rng, n, size, channels):
    """Natural-image-like noise: random phases, amplitude 1 / (1 + |f|)^2, std 0.5.

    The checkerboard tests of metrics.gan_metrics and eval.gan_report use it
    as "real" images: their energy falls with frequency, as photos' does.

    Returns:
      [n, size, size, channels] float64 with standard deviation 0.5 over the batch.
    """
    f = np.fft.fftfreq(size) * size
    amplitude = 1.0 / (1.0 + np.sqrt(f[:, None] ** 2 + f[None, :] ** 2)) ** 2
    noise = rng.normal(size=(2, n, size, size, channels))
    spectrum = amplitude[None, :, :, None] * (noise[0] + 1j * noise[1])
    x = np.real(np.fft.ifft2(spectrum, axes=(1, 2)))
    return 0.5 * x / x.std()
