"""LLM-judge calls as a service: a pool of Ray actors behind one interface.

`JudgePool(config).complete(requests)` (`pool.py`) returns one `JudgeOutcome` per OpenAI
chat-completion or plain completion request: the response body, or the reason it failed after the
last retry. The backend is any OpenAI-compatible endpoint, or a vLLM server the pool starts in the
cluster. `config.py` declares the judge's options. Nothing is imported here, so reading the
options (the command line does) never loads asyncio, Ray or openai.
"""
