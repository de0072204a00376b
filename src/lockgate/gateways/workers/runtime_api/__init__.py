"""Custom runtimes (``runtime = "provided"``): the Lambda Runtime API, served to each
worker on a loopback port."""
