"""Reporters: each kind of result (diagnostics, plan, drift, apply outcome) turned into text, JSON, GitHub
annotations or Markdown. A reporter is a small class with one ``report`` method; it prints nothing itself."""
