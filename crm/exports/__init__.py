"""List exports too large for a web request: the jobs, their worker, their page and file."""
