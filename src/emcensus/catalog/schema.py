"""Catalog schema and its forward migrations.

`PRAGMA user_version` holds the schema version. Each migration is a list of statements that takes
the catalog from version N-1 to N; a catalog newer than this emcensus is refused, never rewritten.
"""

from __future__ import annotations

import dataclasses
import inspect
import re

from emcensus.analysis.fov import FOV_TOLERANCE
from emcensus.catalog.derived import DERIVED_COLUMNS, RootSettings, derive
from emcensus.catalog.paths import ENCODED_SQL

#: Columns of the census cube (migration 10): those of `images` it counts by, with their declared
#: types (the same affinity, so a value compares the same in both tables), and `acquired_at` cut to
#: its month ("2019-06", which `--by month` reads as `substr(acquired_at, 1, 7)` from either table;
#: nothing may read a day from the cube). Released with migration 10: never edit.
CUBE_COLUMNS = {
    "is_primary": "INTEGER", "kind": "TEXT", "status": "TEXT", "readable": "INTEGER", "year": "INTEGER",
    "technique": "TEXT", "instrument": "TEXT", "detector_family": "TEXT", "detector": "TEXT",
    "scalebar_decade": "TEXT", "vendor": "TEXT", "group_name": "TEXT", "root_id": "INTEGER",
    "metadata_source": "TEXT", "acquired_at_source": "TEXT", "fov_source": "TEXT", "acquired_at": "TEXT",
}


#: Columns of the detail cube (migration 11): magnification, FOV and project, which `count` filters
#: and groups on and the census cube lacks, with the columns that add few rows to them (layout,
#: instrument, sources; ~147 k rows at a million images). Year, detector and month would double it
#: and with the census cube's columns it would be 659 k rows, read no faster than the census index.
DETAIL_COLUMNS = {
    "is_primary": "INTEGER", "kind": "TEXT", "status": "TEXT", "readable": "INTEGER", "magnification": "REAL",
    "fov_m": "REAL", "fov_source": "TEXT", "scalebar_decade": "TEXT", "group_name": "TEXT", "project": "TEXT",
    "instrument": "TEXT", "technique": "TEXT", "vendor": "TEXT", "root_id": "INTEGER", "metadata_source": "TEXT",
    "acquired_at_source": "TEXT",
}


#: Columns of the two time cubes (migration 12): magnification, and project, each with the year, month
#: and detector (and the instrument's columns, which add few rows), so that a group-by of either with
#: one of those reads ~90 k rows, not a million (neither earlier cube holds both sides; one cube with
#: magnification and project together would be 600 k rows).
_FILE_STATE = {"is_primary": "INTEGER", "kind": "TEXT", "status": "TEXT", "readable": "INTEGER"}
_TIME_AND_DETECTOR = {"year": "INTEGER", "acquired_at": "TEXT", "detector_family": "TEXT", "detector": "TEXT",
                      "instrument": "TEXT", "technique": "TEXT", "vendor": "TEXT", "root_id": "INTEGER"}
MAGNIFICATION_TIME_COLUMNS = {**_FILE_STATE, "magnification": "REAL", **_TIME_AND_DETECTOR}
PROJECT_TIME_COLUMNS = {**_FILE_STATE, "project": "TEXT", **_TIME_AND_DETECTOR}

#: The folder of a path as SQL (`path`: an SQL value): everything up to its last '/' included, '' for
#: none (rtrim strips the trailing characters that are not '/': its set is every character of the
#: path but '/'). The folder table (migration 12) holds one row per folder of a catalogued path. In
#: a path longer than 256 characters the set's last 256 come first: rtrim looks each character of
#: the name up in the set from its start, and a name (255 characters at most on any file system) is
#: found among them, not after the whole folder (a 1,100-character path: 0.21-0.45 ms -> 0.04-0.09
#: ms; 4,000: 3-5 ms -> 0.1 ms; a path of 71 characters: 1.75 -> 1.8 us).
FOLDER_SQL = ("rtrim({path}, CASE WHEN length({path}) > 256 THEN replace(substr({path}, -256), '/', '')"
              " || replace(substr({path}, 1, length({path}) - 256), '/', '') ELSE replace({path}, '/', '') END)")
#: The characters an extension the folder table holds is made of (`.tif`, `.dm4`, `.emd_1`).
EXTENSION_CHARACTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"
#: The extension of a path as SQL: its last '.' and the `EXTENSION_CHARACTERS` after it to the end
#: ('.tif', '.' for "a."), NULL when the path does not end so ("a.tif~", "noext", a dot in a folder's
#: name). Case kept, as GLOB compares. `_RUN`: the path less the run of those characters it ends in;
#: rtrim stops at the run's start, a few characters from the end (no scan of the whole path).
_RUN = f"rtrim({{path}}, '{EXTENSION_CHARACTERS}')"
EXTENSION_SQL = f"CASE WHEN substr({{path}}, length({_RUN}), 1) = '.' THEN substr({{path}}, length({_RUN})) END"
#: The folder table's columns: the folder and extension of `images.path`, and the file's state, so
#: that a `count --path` of a glob these decide (`query.path_in_folders`: `*/vol03/*`, `*.tif`,
#: `*/2019/*.dm4`) is a sum over it (~0.1 M rows at a million images), not a read of every path.
FOLDER_COLUMNS = {"folder": "TEXT", "extension": "TEXT", **_FILE_STATE}
#: Cube columns computed from a path: their SQL.
_PATH_PARTS = {"folder": FOLDER_SQL, "extension": EXTENSION_SQL}


def cube_values(row: str, columns: dict[str, str] = CUBE_COLUMNS) -> list[str]:
    """What each cube column holds of an `images` row (`NEW`, `OLD` or the table), as SQL."""
    return [f"substr({row}.{column}, 1, 7)" if column == "acquired_at"
            else _PATH_PARTS[column].format(path=f"{row}.path") if column in _PATH_PARTS else f"{row}.{column}"
            for column in columns]


def _cube_key(row: str, columns: dict[str, str]) -> str:
    """The cube row of an `images` row: its values as SQL literals (any type, NULL included: a
    malformed value can not make the scan's write fail)."""
    return " || ',' || ".join(f"quote({value})" for value in cube_values(row, columns))


def _cube_add(row: str, cube: str, columns: dict[str, str]) -> str:
    return (f"INSERT INTO {cube} VALUES ({_cube_key(row, columns)}, {', '.join(cube_values(row, columns))},"
            f" 1, {row}.size_bytes) ON CONFLICT(key) DO UPDATE SET n = n + 1, bytes = bytes + excluded.bytes;")


def _cube_remove(row: str, cube: str, columns: dict[str, str]) -> str:
    return (f"UPDATE {cube} SET n = n - 1, bytes = bytes - {row}.size_bytes WHERE key = {_cube_key(row, columns)};"
            f" DELETE FROM {cube} WHERE key = {_cube_key(row, columns)} AND n = 0;")


#: The `images` column a cube column is computed from, where their names differ.
_SOURCE_COLUMNS = {"folder": "path", "extension": "path"}


def _cube_migration(cube: str, columns: dict[str, str]) -> list[str]:
    """A cube table of files and bytes per combination of `columns`, filled from `images` and kept by
    triggers in each writer's own transaction. A row's update moves it in the cube when a counted
    value changed (a column computed from another when that one changed: the folder's path, compared
    without computing the folder twice per row a rescan rewrites)."""
    values = {row: cube_values(row, columns) for row in ("images", "OLD", "NEW")}
    changed = {row: list(dict.fromkeys(f"{row}.{_SOURCE_COLUMNS[column]}" if column in _SOURCE_COLUMNS else value
                                       for column, value in zip(columns, values[row]))) for row in ("OLD", "NEW")}
    return [
        f"""CREATE TABLE {cube} (
            key TEXT PRIMARY KEY,           -- the columns below as SQL literals: one row per combination
            {', '.join(f'{column} {kind}' for column, kind in columns.items())},
            n INTEGER NOT NULL,             -- files
            bytes INTEGER NOT NULL          -- their size_bytes summed
        ) WITHOUT ROWID""",
        f"""INSERT INTO {cube} SELECT {_cube_key('images', columns)}, {', '.join(values['images'])}, count(*),
            sum(size_bytes) FROM images GROUP BY {', '.join(values['images'])}""",
        f"""CREATE TRIGGER {cube}_insert AFTER INSERT ON images BEGIN {_cube_add('NEW', cube, columns)} END""",
        f"""CREATE TRIGGER {cube}_delete AFTER DELETE ON images BEGIN {_cube_remove('OLD', cube, columns)} END""",
        f"""CREATE TRIGGER {cube}_update AFTER UPDATE OF {', '.join(dict.fromkeys(_SOURCE_COLUMNS.get(c, c) for c in columns))}, size_bytes ON images
            WHEN {' OR '.join(f'{old} IS NOT {new}' for old, new in zip([*changed['OLD'], 'OLD.size_bytes'],
                                                                         [*changed['NEW'], 'NEW.size_bytes']))}
            BEGIN {_cube_remove('OLD', cube, columns)} {_cube_add('NEW', cube, columns)} END""",
    ]


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
    # 2: derived per-image columns (FOV, scale bar, layout fields), root settings, the publication ledger
    [
        "ALTER TABLE roots ADD COLUMN magnification_reference_m REAL",  # facility file; NULL: the default
        "ALTER TABLE roots ADD COLUMN layout TEXT",                      # e.g. "{group}/{project}/**"
        "ALTER TABLE images ADD COLUMN fov_m REAL",              # chosen FOV width (pixel size first)
        "ALTER TABLE images ADD COLUMN fov_source TEXT",         # pixel-size | magnification
        "ALTER TABLE images ADD COLUMN fov_mag_m REAL",          # reference width / magnification
        "ALTER TABLE images ADD COLUMN fov_disagreement REAL",   # |pixel route / mag route - 1|
        "ALTER TABLE images ADD COLUMN scale_bar_m REAL",        # the conditional scale bar: 10 % of fov_m
        "ALTER TABLE images ADD COLUMN scalebar_decade TEXT",    # analysis.fov.DECADE_LABELS
        "ALTER TABLE images ADD COLUMN group_name TEXT",
        "ALTER TABLE images ADD COLUMN project TEXT",
        "CREATE INDEX images_decade ON images(is_primary, scalebar_decade, technique)"
        " WHERE status = 'present' AND readable = 1",
        """CREATE TABLE articles (
            id TEXT PRIMARY KEY,            -- bare lower-case DOI, or a local id
            year INTEGER, title TEXT, journal TEXT, category TEXT, subcategory TEXT,
            source TEXT NOT NULL,           -- facility | third-party
            authors TEXT
        )""",
        """CREATE TABLE article_images (     -- file level: this image appears in this article
            article_id TEXT NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
            path TEXT NOT NULL,             -- resolved path (the catalog's, when image_id is set)
            image_id INTEGER REFERENCES images(id),  -- NULL: not in the archive (third-party image)
            technique TEXT,                 -- the ledger's, used only when image_id is NULL
            PRIMARY KEY (article_id, path)
        )""",
        "CREATE INDEX article_images_image ON article_images(image_id)",
        """CREATE TABLE article_counts (     -- count level: this article shows `count` images of `technique`
            article_id TEXT NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
            technique TEXT,
            count INTEGER NOT NULL CHECK (count > 0)
        )""",
    ],
    # 3: one covering index over what `count` filters and groups on, instead of five narrow ones:
    # queries stay in milliseconds and a census writes 4 index entries per file, not 8.
    [
        "DROP INDEX images_year",
        "DROP INDEX images_instrument",
        "DROP INDEX images_technique",
        "DROP INDEX images_mag",
        "DROP INDEX images_decade",
        "CREATE INDEX images_census ON images(is_primary, year, technique, instrument, detector_family,"
        " magnification, scalebar_decade, vendor, group_name, project, root_id) WHERE status = 'present' AND readable = 1",
    ],
    # 4: small partial indexes behind the audit lists, so the audit (and its dashboard page) never
    # scans the whole images table.
    [
        "CREATE INDEX audit_no_metadata ON images(path)"
        " WHERE status = 'present' AND readable = 1 AND metadata_source = 'none'",
        "CREATE INDEX audit_exports ON images(acquisition_key) WHERE status = 'present' AND readable = 1 AND is_primary = 0",
        "CREATE INDEX audit_date_gap ON images(date_gap_days) WHERE status = 'present' AND date_gap_days > 1",
        "CREATE INDEX audit_missing ON images(path) WHERE status = 'missing'",
        f"CREATE INDEX audit_fov ON images(fov_disagreement) WHERE status = 'present' AND readable = 1"
        f" AND fov_disagreement > {FOV_TOLERANCE}",
    ],
    # 5: what a file holds (spectra, diffraction patterns and spectrum images are not micrographs)
    [
        "ALTER TABLE images ADD COLUMN kind TEXT NOT NULL DEFAULT 'image'",
        # every count filters on kind (images only by default): the census index seeks on it; status
        # and readable, although implied by the partial index, must be columns too for SQLite to
        # answer a count from the index alone (a covering index, no table lookups)
        "DROP INDEX images_census",
        "CREATE INDEX images_census ON images(is_primary, kind, year, technique, instrument, detector_family,"
        " magnification, scalebar_decade, vendor, group_name, project, root_id, status, readable)"
        " WHERE status = 'present' AND readable = 1",
        # a sidecar whose image is gone is an `images` row of kind 'sidecar-only' (its metadata is read)
        "DROP TABLE orphan_sidecars",
        "CREATE INDEX audit_sidecar_only ON images(path) WHERE kind = 'sidecar-only' AND status = 'present'",
        # paths of names that are not UTF-8, stored encoded (catalog.paths): found without a table scan
        f"CREATE INDEX images_encoded ON images(root_id, path) WHERE {ENCODED_SQL}",
    ],
    # 6: published images found by `figures match` (issue 8): proposed for review, accepted into the
    # ledger as links of source 'matched', rejected ones remembered so they are not proposed again
    [
        """CREATE TABLE figure_matches (
            id INTEGER PRIMARY KEY,
            article TEXT NOT NULL,          -- ledger article id (normalised DOI, else the document stem)
            document TEXT NOT NULL,         -- the document path as given
            page INTEGER,                   -- 1-based; NULL for an image file
            panel_bbox TEXT NOT NULL,       -- JSON [x0, y0, x1, y1]: PDF points, or pixels of an image file
            image_id INTEGER NOT NULL REFERENCES images(id),
            score REAL NOT NULL,
            inliers INTEGER NOT NULL,
            crop_box TEXT NOT NULL,         -- JSON [x0, y0, x1, y1] in the archive image's pixels
            scale REAL NOT NULL,            -- published px per archive px
            scale_bar_m REAL,               -- printed scale bar value (OCR), NULL when none was read
            panel_fov_m REAL,               -- published field of view from the archive pixel size
            related_json TEXT NOT NULL DEFAULT '[]',  -- other image ids of the same field
            caption TEXT,
            status TEXT NOT NULL DEFAULT 'proposed',  -- proposed | accepted | rejected
            found_at TEXT NOT NULL,
            decided_at TEXT,
            UNIQUE (article, image_id, document, page, panel_bbox)
        )""",
        "CREATE INDEX figure_matches_queue ON figure_matches(status, score)",
        "CREATE INDEX figure_matches_pair ON figure_matches(article, image_id, status)",
        "ALTER TABLE article_images ADD COLUMN source TEXT",  # NULL: a ledger row; 'matched': figures accept
    ],
    # 7: one fingerprint per folder (issue 11): a rescan that finds the same fingerprint skips the
    # folder's files without reading or even stat-ing them one by one
    [
        """CREATE TABLE folders (
            root_id INTEGER NOT NULL REFERENCES roots(id) ON DELETE CASCADE,
            rel_path TEXT NOT NULL,         -- the folder below its root, '' for the root itself
            fingerprint BLOB NOT NULL,      -- digest of its entries' (name, kind, size, mtime_ns), sorted
            scan_id INTEGER NOT NULL,       -- the scan that stored it
            PRIMARY KEY (root_id, rel_path)
        ) WITHOUT ROWID""",
    ],
    # 8: per-image quality metrics and near-duplicate groups (issue 9), valid for one file state
    [
        """CREATE TABLE quality (
            image_id INTEGER PRIMARY KEY REFERENCES images(id) ON DELETE CASCADE,
            size_bytes INTEGER NOT NULL,    -- the file state measured: recomputed when either changes
            mtime_ns INTEGER NOT NULL,
            content_sha256 TEXT,            -- of the file bytes: reuse across moves and copies
            pixel_sha256 TEXT,              -- of the decoded pixels: the reuse export's image_id
            blank INTEGER,                  -- 1: an empty frame
            clipped_low REAL, clipped_high REAL,   -- fractions of pixels at either end of the range
            noise_sigma REAL, snr REAL,
            sharpness REAL,                 -- after a Gaussian pre-blur (noise is not sharpness)
            resolution_px REAL, resolution_m REAL, -- where the power spectrum meets the noise floor
            charging REAL, drift REAL,
            sharpness_pct REAL,             -- percentile within instrument x magnification decade
            quality_flag TEXT,              -- ok | blank | blurred | noisy | clipped | charging | drift
            phash TEXT, dhash TEXT,         -- 64-bit perceptual hashes, hex
            dup_group INTEGER,              -- near-duplicate group (smallest image id in it), NULL: alone
            error TEXT,                     -- why the metrics could not be computed
            metric_version INTEGER NOT NULL,
            computed_at TEXT NOT NULL
        )""",
        "CREATE INDEX quality_dup ON quality(dup_group) WHERE dup_group IS NOT NULL",
        "CREATE INDEX quality_content ON quality(content_sha256)",
    ],
    # 9: article topics (issue 10): a classifier's category is kept apart from the ledger's own
    [
        "ALTER TABLE articles ADD COLUMN abstract TEXT",
        "ALTER TABLE articles ADD COLUMN keywords TEXT",
        "ALTER TABLE articles ADD COLUMN category_source TEXT",    # NULL or 'ledger': given; 'classified'
        "ALTER TABLE articles ADD COLUMN category_confidence REAL",  # of a classified category
        "ALTER TABLE articles ADD COLUMN needs_review INTEGER",      # 1: a person should look
        # a printed scale bar that disagrees with bar length x the matched image's FOV (issue 8)
        "ALTER TABLE figure_matches ADD COLUMN scale_bar_check TEXT",
        # a million images (issue 11): the census index also holds sizes and FOV widths, so storage
        # sums and `--fov` ranges read the index, not the table (3 s each at 1 M, a tenth of it now)
        "DROP INDEX images_census",
        "CREATE INDEX images_census ON images(is_primary, kind, year, technique, instrument, detector_family,"
        " magnification, scalebar_decade, vendor, group_name, project, root_id, size_bytes, fov_m, status, readable)"
        " WHERE status = 'present' AND readable = 1",
    ],
    # 10: the census cube (issue 11): files and bytes per combination of the low-cardinality columns
    # and the month (~82 k rows at a million images), kept by triggers in the writer's own transaction, so counts
    # and group-bys on these columns read thousands of rows, not a million (see catalog.cube)
    _cube_migration("census_cube", CUBE_COLUMNS),
    # 11: the detail cube (issue 11): files and bytes per magnification, FOV, project and the columns
    # that come with them, so counts and group-bys on them read ~147 k rows, not a million index
    # entries (see catalog.cube)
    _cube_migration("census_detail", DETAIL_COLUMNS),
    # 12: the time cubes (issue 11): magnification and project each with year, month and detector, which
    # neither earlier cube holds together (group-bys of these pairs read a million rows: 0.4-2.8 s at 1 M);
    # and the folder table: files and bytes per folder and extension of `images.path` and file state, so
    # a `--path` glob that these decide is counted from it, not from a million paths (see ImageFilter.where)
    # and the acquisition time and magnification indexes: a list page in either order reads the rows of
    # the values holding it in order (which: the cubes' counts per value, see CubeMixin.window_of_page),
    # not every matching row sorted
    [*_cube_migration("census_magnification", MAGNIFICATION_TIME_COLUMNS),
     *_cube_migration("census_project", PROJECT_TIME_COLUMNS),
     *_cube_migration("census_folders", FOLDER_COLUMNS),
     "CREATE INDEX images_acquired ON images(acquired_at)",
     "CREATE INDEX images_magnification ON images(magnification)"],
]

SCHEMA_VERSION = len(MIGRATIONS)

#: Columns the derived image columns are computed from or stored in, per table, as catalog.derived
#: names them: its columns, the image columns `derive` takes (by name) and the root settings.
_DERIVATION_COLUMNS = {
    "images": {*DERIVED_COLUMNS, *list(inspect.signature(derive).parameters)[1:]},
    "roots": {field.name for field in dataclasses.fields(RootSettings)},
}
#: A statement that alters a table (adds, renames or drops a column), in any spelling SQLite takes.
_ALTER_TABLE = re.compile(r"""\s*ALTER\s+TABLE\s+["`[]?(\w+)["`\]]?\s+(.*)""", re.IGNORECASE | re.DOTALL)


def changes_derivation(statements: list[str]) -> bool:
    """Whether a migration alters a column the derived image columns are computed from or stored in
    (any word of an ALTER TABLE statement naming one: a false alarm costs time, a miss wrong FOVs):
    only then must an upgrade recompute every root's derived columns (49 s of CPU at a million images)."""
    for statement in statements:
        match = _ALTER_TABLE.match(statement)
        if match and _DERIVATION_COLUMNS.get(match.group(1).lower(), set()) & set(re.findall(r"\w+", match.group(2).lower())):
            return True
    return False
