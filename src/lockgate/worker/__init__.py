"""The code that runs inside a worker process. Imports only the standard library, so a worker
starts fast and stays small; nothing here may import the rest of Lockgate."""
