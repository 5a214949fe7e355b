"""Talking to OpenAI-compatible endpoints: one request with retries and backoff (`client.py`) and
requests/tokens-per-minute limits (`ratelimit.py`). The judge pool and the API engine of models
under test both use these; neither knows the other."""
