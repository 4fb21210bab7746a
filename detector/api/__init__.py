"""HTTP API of the violation store: `detector.api.app.create_app(services)` (FastAPI)."""
