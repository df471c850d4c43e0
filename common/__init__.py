"""Small utilities every binary shares: workdir files, JSON results, progress."""
