"""What tells ``lockgate serve --reload`` that files changed: a watcher on the operating
system's file notifications, and an in-memory fake."""
