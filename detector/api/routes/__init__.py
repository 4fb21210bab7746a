"""The API's routes, one `APIRouter` per area; `detector.api.app.create_app` includes them in order.

Each route takes what it needs as dependencies (`detector.api.deps`: the store's services, the rate
limiter, the client's address; `detector.api.auth`: the token and its role).
"""
