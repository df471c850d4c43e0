"""dvbpr_tf package."""
