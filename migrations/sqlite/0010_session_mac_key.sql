-- The per-session key of the refresh tokens' generation tag (64 hex digits). NULL for sessions created
-- before tags existed; they get one at their next rotation. With it, any refresh token the session ever
-- issued is recognised as reuse, however many rotations came after it, without keeping a list of them.
ALTER TABLE sessions ADD COLUMN refresh_mac_key TEXT CHECK (refresh_mac_key IS NULL OR length(refresh_mac_key) = 64);
