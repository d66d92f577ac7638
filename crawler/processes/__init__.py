"""Processes linkgraph starts and looks after itself, such as the embedded Valkey server.

Keeping a process alive (starting it, finding one already running, stopping it cleanly) is
supervision, not crawling: the frontier and the crawler only ever see a server's URL.
"""
