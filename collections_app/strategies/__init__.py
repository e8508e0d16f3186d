"""Communication strategies: segments, templates, events settings, flows and their figures."""
