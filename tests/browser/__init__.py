"""Real-browser tests of the lessons in JupyterLab and Voila (see harness.py)."""
