"""The dpm registry server: a faithful implementation of the Dynamic Provider Management API.

Build an app with :func:`create_app` from :class:`Settings`; ``dpm serve`` runs it under uvicorn, and the embedded
registry runs the same app in-process.
"""

from dpm_server.app import create_app, embedded_admin_token
from dpm_server.settings import Settings

__all__ = ["Settings", "create_app", "embedded_admin_token"]
