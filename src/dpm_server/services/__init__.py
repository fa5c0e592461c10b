"""Plain keyword-only functions over a SQLAlchemy session: the behaviour behind each route."""
