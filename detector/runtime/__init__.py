"""The one runtime of replay and live runs: threads, bounded queues, detection scheduling."""
