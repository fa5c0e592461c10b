"""Authentication: argon2id passwords, HS256 JWTs, rotating refresh tokens, and the role checks."""
