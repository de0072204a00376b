"""The resources benchmark (issue 4): resolving pooled resources, reading secrets, and the
connections 1,000 concurrent runs on one database reference open, beside Kailash 2.65's
secret reads. Run ``benchmarks/resources/run.py``."""
