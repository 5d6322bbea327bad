-- Operators disable and enable accounts (`POST /admin/users/{id}/disable|enable`): a disabled account cannot
-- log in. NULL = enabled; otherwise when it was disabled (RFC 3339 UTC text, as every timestamp here).
ALTER TABLE users ADD COLUMN disabled_at TEXT;
