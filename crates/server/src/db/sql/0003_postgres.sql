-- Encore schema version 3 (PostgreSQL): per-account preferences of the web app.
-- care_mode: the ageing-friendly display (larger text and targets, simpler navigation), 0 or 1.
ALTER TABLE users ADD COLUMN care_mode BIGINT NOT NULL DEFAULT 0;
