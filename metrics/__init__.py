"""Metrics: ranking AUCs and image-quality measures; the lowest floor above common/."""
