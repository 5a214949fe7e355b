"""rayeval: evaluate folders of LLM checkpoints on IFEval, TruthfulQA, AlpacaEval 2 and LiveBench.

Heavy modules (vllm, torch, ray) are imported only where they are used, so that importing the
package, and `rayeval --help`, stays instant.
"""

__version__ = "0.1.0"
