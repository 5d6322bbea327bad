-- The users' notice of a mass invalidation: the operator's message (shown in every 401 `session_revoked` it
-- causes) and how many refused requests carried it (each instance adds its count periodically).
ALTER TABLE session_revocations ADD COLUMN user_message TEXT;
ALTER TABLE session_revocations ADD COLUMN refused_requests INTEGER NOT NULL DEFAULT 0 CHECK (refused_requests >= 0);
