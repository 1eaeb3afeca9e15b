"""Catalog schema and its forward migrations.

`PRAGMA user_version` holds the schema version. Each migration is a list of statements that takes
the catalog from version N-1 to N; a catalog newer than this emcensus is refused, never rewritten.
"""

from __future__ import annotations

MIGRATIONS: list[list[str]] = [
    # 1: the census core
    [
        """CREATE TABLE roots (
            id INTEGER PRIMARY KEY,
            path TEXT NOT NULL UNIQUE,
            instrument TEXT,
            vendor TEXT,
            technique TEXT,
            added_at TEXT NOT NULL
        )""",
        """CREATE TABLE scans (
            id INTEGER PRIMARY KEY,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            roots TEXT NOT NULL,
            status TEXT NOT NULL,          -- running | complete | interrupted
            files_seen INTEGER DEFAULT 0,
            files_read INTEGER DEFAULT 0,
            files_skipped INTEGER DEFAULT 0,
            files_missing INTEGER DEFAULT 0,
            errors INTEGER DEFAULT 0
        )""",
        """CREATE TABLE images (
            id INTEGER PRIMARY KEY,
            path TEXT NOT NULL UNIQUE,
            root_id INTEGER NOT NULL REFERENCES roots(id),
            rel_path TEXT NOT NULL,
            acquisition_key TEXT NOT NULL,  -- root + folder + case-folded stem: one frame
            is_primary INTEGER NOT NULL,    -- 1 for one file per acquisition
            status TEXT NOT NULL,           -- present | missing
            vendor TEXT, instrument TEXT, technique TEXT,
            detector TEXT, detector_family TEXT,
            magnification REAL, accelerating_voltage_v REAL, working_distance_m REAL,
            pixel_size_m REAL, width_px INTEGER, height_px INTEGER, fov_width_m REAL,
            acquired_at TEXT, acquired_at_source TEXT, year INTEGER,
            metadata_source TEXT,
            sidecar_path TEXT, sidecar_size INTEGER, sidecar_mtime_ns INTEGER,
            size_bytes INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
            date_gap_days REAL,             -- |metadata date - file mtime|, when both exist
            readable INTEGER NOT NULL,      -- 0 when no reader got anything out of the file
            error TEXT,                     -- why the last read failed (earlier metadata kept)
            first_seen_scan INTEGER NOT NULL,
            missing_since_scan INTEGER
        )""",
        "CREATE TABLE metadata (image_id INTEGER PRIMARY KEY REFERENCES images(id) ON DELETE CASCADE, json TEXT NOT NULL)",
        """CREATE TABLE problems (
            id INTEGER PRIMARY KEY,
            group_key TEXT NOT NULL,        -- what re-reading clears: an acquisition or a walk root
            path TEXT NOT NULL,
            severity TEXT NOT NULL,         -- error | warning
            reason TEXT NOT NULL,
            scan_id INTEGER NOT NULL
        )""",
        "CREATE INDEX problems_group ON problems(group_key)",
        """CREATE TABLE orphan_sidecars (
            path TEXT PRIMARY KEY,
            root_id INTEGER NOT NULL REFERENCES roots(id),
            size_bytes INTEGER,
            last_seen_scan INTEGER NOT NULL
        )""",
        "CREATE INDEX images_root ON images(root_id, status)",
        "CREATE INDEX images_acq ON images(acquisition_key)",
        # Partial indexes over what `count` counts: present, readable images (files or acquisitions).
        "CREATE INDEX images_year ON images(is_primary, year, instrument, detector_family, technique)"
        " WHERE status = 'present' AND readable = 1",
        "CREATE INDEX images_instrument ON images(is_primary, instrument, year, technique)"
        " WHERE status = 'present' AND readable = 1",
        "CREATE INDEX images_technique ON images(is_primary, technique, year, magnification)"
        " WHERE status = 'present' AND readable = 1",
        "CREATE INDEX images_mag ON images(is_primary, magnification, technique)"
        " WHERE status = 'present' AND readable = 1",
    ],
]

SCHEMA_VERSION = len(MIGRATIONS)
