"""Long-running jobs, started on their runners and followed to their end."""
