"""The engine: live state, normalization, diff, the plan, apply, drift and dump. Pure functions over plain data,
except ``apply``, which sends the plan's requests through a ``RegistryClient``."""
