"""LLM-judge calls as a service: a pool of Ray actors behind one interface.

`JudgePool(config).complete(requests)` (`pool.py`) returns one `CallOutcome` per OpenAI
chat-completion or plain completion request: the response body, or the reason it failed after the
last retry. The backend is any OpenAI-compatible endpoint, or a vLLM server the pool starts in the
cluster. `service.py` shares the pools among a job's evaluation tasks (one `JudgeService` actor
per job, so the limits hold for the whole job) and gives benchmarks their judge (`open_judge`).
`config.py` declares the judge's options. Nothing is imported here, so reading the
options (the command line does) never loads asyncio, Ray or openai.
"""
