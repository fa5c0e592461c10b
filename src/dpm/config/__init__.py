"""The config language, offline: yamlio (positions, hostile input) → load → project (dpm.yaml, environments, vars)
→ render (the Jinja sandbox) → validate (schema, rules) → compile (templates, cross-document checks) → desired
state. Nothing here touches the network."""
