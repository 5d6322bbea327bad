-- Fair job queue (issue 20): the runner claims due jobs in `fair_at` order, not `run_at` order. `fair_at` is a
-- job's place in its queue, set at enqueue (`ports::jobs::fair_place`): its run_at, or a minute after the
-- latest place among its owner's live jobs of that queue, so one owner's burst is interleaved with the jobs
-- other owners queue meanwhile (round robin by owner). Existing jobs keep their order (fair_at = run_at).
ALTER TABLE jobs ADD COLUMN fair_at timestamptz;
UPDATE jobs SET fair_at = run_at WHERE run_at IS NOT NULL;

-- The claim: due jobs of a queue in fair order.
CREATE INDEX jobs_fair_due_idx ON jobs (queue, fair_at)
    WHERE run_at IS NOT NULL AND state IN ('scheduled', 'available', 'retryable');
-- The enqueue: an owner's latest place among its live jobs of a queue.
CREATE INDEX jobs_owner_live_idx ON jobs (queue, owner, fair_at)
    WHERE owner IS NOT NULL AND state IN ('scheduled', 'available', 'running', 'retryable');
