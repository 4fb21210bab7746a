"""Violation and fine store: models and migrations, ingest of signed bundles, review with an audit
log, fines from Decree 168/2024, lookup and payments, MQTT outbox and edge-to-central forwarding.

Entry point: `detector.store.services.build_services(StoreConfig, clock=...)`.
"""
