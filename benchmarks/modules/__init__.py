"""The modules benchmark (issue 5): service discovery and guarded calls between modules beside
the direct references and method calls they stand for, and event delivery between modules,
durable and not. Run ``benchmarks/modules/run.py``."""
