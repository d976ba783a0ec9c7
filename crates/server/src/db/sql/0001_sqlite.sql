-- Encore schema version 1 (SQLite). Times are Unix milliseconds; ids are UUID strings.
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('listener', 'creator', 'reviewer', 'admin')),
    created_at BIGINT NOT NULL
);
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    prefix TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at BIGINT
);
CREATE TABLE creators (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL UNIQUE REFERENCES users (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    bio TEXT NOT NULL,
    links TEXT NOT NULL,
    gender TEXT,
    birth_year BIGINT,
    demographics_consent_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE TABLE works (
    id TEXT PRIMARY KEY,
    creator_id TEXT NOT NULL REFERENCES creators (id),
    title TEXT NOT NULL,
    artists TEXT NOT NULL,
    artists_text TEXT NOT NULL,
    album TEXT,
    isrc TEXT,
    language TEXT,
    genre TEXT,
    explicit BIGINT NOT NULL,
    status TEXT NOT NULL,
    published_at BIGINT,
    audio_key TEXT NOT NULL,
    audio_size BIGINT NOT NULL,
    audio_sha256 TEXT NOT NULL,
    audio_content_type TEXT NOT NULL,
    cover_key TEXT,
    cover_content_type TEXT,
    lyrics TEXT,
    lyrics_format TEXT,
    lyrics_text TEXT NOT NULL,
    duration_s DOUBLE PRECISION,
    sample_rate BIGINT,
    channels BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX works_creator ON works (creator_id);
CREATE INDEX works_published ON works (published_at);
CREATE VIRTUAL TABLE works_fts USING fts5 (
    title, artists_text, album, lyrics_text,
    content = 'works', content_rowid = 'rowid', tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER works_fts_ai AFTER INSERT ON works BEGIN
    INSERT INTO works_fts (rowid, title, artists_text, album, lyrics_text)
    VALUES (new.rowid, new.title, new.artists_text, new.album, new.lyrics_text);
END;
CREATE TRIGGER works_fts_ad AFTER DELETE ON works BEGIN
    INSERT INTO works_fts (works_fts, rowid, title, artists_text, album, lyrics_text)
    VALUES ('delete', old.rowid, old.title, old.artists_text, old.album, old.lyrics_text);
END;
CREATE TRIGGER works_fts_au AFTER UPDATE ON works BEGIN
    INSERT INTO works_fts (works_fts, rowid, title, artists_text, album, lyrics_text)
    VALUES ('delete', old.rowid, old.title, old.artists_text, old.album, old.lyrics_text);
    INSERT INTO works_fts (rowid, title, artists_text, album, lyrics_text)
    VALUES (new.rowid, new.title, new.artists_text, new.album, new.lyrics_text);
END;
CREATE TABLE releases (
    id TEXT PRIMARY KEY,
    creator_id TEXT NOT NULL REFERENCES creators (id),
    title TEXT NOT NULL,
    kind TEXT NOT NULL,
    published_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE TABLE release_works (
    release_id TEXT NOT NULL REFERENCES releases (id) ON DELETE CASCADE,
    work_id TEXT NOT NULL REFERENCES works (id),
    position BIGINT NOT NULL,
    PRIMARY KEY (release_id, position)
);
CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    work_id TEXT NOT NULL REFERENCES works (id) ON DELETE CASCADE,
    step TEXT NOT NULL,
    stage BIGINT NOT NULL,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    max_attempts BIGINT NOT NULL,
    run_after BIGINT NOT NULL,
    lease_owner TEXT,
    lease_expires_at BIGINT,
    started_at BIGINT,
    finished_at BIGINT,
    duration_ms BIGINT,
    last_error TEXT,
    completions BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (work_id, step)
);
CREATE INDEX jobs_claim ON jobs (status, run_after);
CREATE TABLE step_results (
    work_id TEXT NOT NULL REFERENCES works (id) ON DELETE CASCADE,
    step TEXT NOT NULL,
    code_version TEXT NOT NULL,
    result TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (work_id, step)
);
CREATE TABLE reviews (
    id TEXT PRIMARY KEY,
    work_id TEXT NOT NULL REFERENCES works (id) ON DELETE CASCADE,
    step TEXT NOT NULL,
    reason TEXT NOT NULL,
    details TEXT NOT NULL,
    status TEXT NOT NULL,
    decided_by TEXT,
    decided_at BIGINT,
    note TEXT,
    created_at BIGINT NOT NULL
);
CREATE TABLE plays (
    id TEXT PRIMARY KEY,
    work_id TEXT NOT NULL REFERENCES works (id) ON DELETE CASCADE,
    user_id TEXT,
    format TEXT NOT NULL,
    listened_ms BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX plays_work ON plays (work_id);
