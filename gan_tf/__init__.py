"""gan_tf package."""
