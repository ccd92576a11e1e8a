"""The application layer, without Qt: jobs and their queue rule (`jobs`), the editing
session's state (`session`), and the runners of upscale, kernel and metrics jobs.

It imports only the engine; the GUI (sr_desktop.gui) runs its jobs in worker threads and
observes its session.
"""
