"""Durable workflows: declared with ``AsyncWorkflowBuilder``, run step by step with every
finished step checkpointed, resumed where they stopped."""
