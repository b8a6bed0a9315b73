// Package store keeps athenawatch's joined history in SQLite: one row per
// Athena query (keyed by region and query execution id), rejected
// submissions, the checkpoints of every source, and the report queries.
//
// Exactly once rests on two rules enforced here: rows are inserted with
// ON CONFLICT DO NOTHING on their natural key, and a source's checkpoints are
// committed in the same transaction as the rows read from the input they
// cover. A crash at any point therefore loses nothing committed and
// double-counts nothing on the next run.
package store

import (
	"bytes"
	"context"
	"database/sql"
	"embed"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"modernc.org/sqlite" // registers the pure-Go "sqlite" driver
	sqlite3 "modernc.org/sqlite/lib"
)

//go:embed migrations/*.sql
var migrations embed.FS

// ErrNoDatabase is returned by OpenReadOnly for a path that holds no
// athenawatch database (nothing, an empty file, another file or another
// application's SQLite database).
var ErrNoDatabase = errors.New("no athenawatch database")

// Store is an open athenawatch database. It is safe for concurrent use.
type Store struct {
	db *sql.DB
	// version is the schema version of the database; below the current one
	// only for a read-only store, which must not migrate.
	version int
	// rawReports makes Aggregate read the rows, never the rollups: the
	// reference answer the rollups are tested against.
	rawReports bool
	// gatherBound is defaultGatherBound (listing.go).
	gatherBound int
	// listIndexed tells whether the database has the listing's indexes
	// (migration 0006); a read-only store of an older schema lists
	// without them.
	listIndexed bool
	// mem, when set, keeps the copy of the rollups reports read
	// (ServeFromMemory).
	mem atomic.Pointer[memServer]
}

// Open opens (creating if needed) the database at path and migrates it to the
// current schema.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" {
		// SQLite would open a private temporary database, lost at exit.
		return nil, errors.New("open database: empty path")
	}
	if err := createPaged(ctx, path); err != nil {
		return nil, fmt.Errorf("create database %s: %w", path, err)
	}
	// WAL lets readers (serve) run beside a collect; synchronous=NORMAL in WAL
	// mode survives a killed process (only power loss can drop the last
	// commits); immediate transactions avoid lock-upgrade deadlocks between
	// writers, and the busy timeout makes a second writer wait, not fail. The
	// busy timeout comes first so that switching a new database to WAL waits
	// for another process creating it at the same time.
	q := url.Values{}
	for _, p := range []string{"busy_timeout(30000)", "journal_mode(WAL)", "synchronous(NORMAL)", "foreign_keys(1)", defaultCache} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", dsn(path, q))
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	db.SetMaxOpenConns(4)
	db.SetMaxIdleConns(4)
	s := &Store{db: db, gatherBound: defaultGatherBound, listIndexed: true}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrate database %s: %w", path, err)
	}
	return s, nil
}

// pageSize is the page size of a new database. A query row takes about
// 700 bytes, mostly its caller's identity: with SQLite's default of 4 KiB a
// page holds five rows, and storing a million queries writes a quarter of
// a million pages twice (to the write-ahead log, then to the database),
// each write a system call, and splits pages as often. With 16 KiB pages a
// collect of a million queries took about 0.7 of the time. Larger pages
// saved a little more there but cost the reads and updates that touch a
// few rows on many pages: with 32 KiB, a month's report from the rollups
// took about a quarter longer, and enrichment's updates a tenth. The page
// size is fixed when a database is created: one created before keeps its
// own.
const pageSize = 16 << 10

// createPaged gives a database that does not exist yet (no file, or an
// empty one) its page size. The connection string's pragmas cannot: they
// run in alphabetical order, so journal_mode, which writes the database's
// first page and with it the page size, runs before page_size. Another
// process creating the same database at the same time is harmless: the
// first to write the first page sets the size (the same one), and a
// database locked by it is left to Open to wait for.
func createPaged(ctx context.Context, path string) error {
	if fi, err := os.Stat(path); err == nil && fi.Size() > 0 {
		return nil
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(30000)")
	q.Add("_pragma", "page_size("+strconv.Itoa(pageSize)+")")
	db, err := sql.Open("sqlite", dsn(path, q))
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "PRAGMA journal_mode = WAL"); err != nil && !isSQLiteCode(err, sqlite3.SQLITE_BUSY) {
		return err
	}
	return db.Close()
}

// OpenReadOnly opens the existing athenawatch database at path for reading
// only, for the commands that never write (report). It creates nothing and
// writes nothing: the database file may be read-only, and so may its
// directory. A path that holds no athenawatch database is refused with
// ErrNoDatabase. A database of an older schema is read as it is (columns
// added since read as their defaults); migrating it is left to a command
// that writes.
func OpenReadOnly(ctx context.Context, path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("open database: empty path")
	}
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w at %s (collect creates one)", ErrNoDatabase, path)
	}
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w at %s: not a regular file", ErrNoDatabase, path)
	}
	hdr, err := readHeader(path)
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	if !bytes.HasPrefix(hdr, []byte(sqliteMagic)) {
		return nil, fmt.Errorf("%w at %s: not an SQLite database", ErrNoDatabase, path)
	}
	_, walErr := os.Stat(path + "-wal")
	hasWAL := walErr == nil
	// Without a write-ahead log the file header is the whole truth: refuse
	// another application's database before SQLite opens it (opening a WAL
	// database read-only can leave -wal and -shm files beside it).
	if !hasWAL && binary.BigEndian.Uint32(hdr[60:64]) == 0 {
		return nil, fmt.Errorf("%w at %s: an SQLite database without athenawatch's schema", ErrNoDatabase, path)
	}

	q := url.Values{}
	q.Set("mode", "ro")
	q.Add("_pragma", "busy_timeout(30000)")
	q.Add("_pragma", defaultCache)
	s, err := openRead(ctx, path, q)
	if err != nil && !hasWAL && isSQLiteCode(err, sqlite3.SQLITE_READONLY_DIRECTORY, sqlite3.SQLITE_CANTOPEN) {
		// A WAL database in a directory we cannot write, with no -wal file:
		// SQLite cannot create the -shm file it coordinates readers with.
		// No process can be writing it either (a writer would need the
		// -wal file it cannot create there), so the file alone is the
		// database and may be read as immutable.
		q.Set("immutable", "1")
		s, err = openRead(ctx, path, q)
	}
	if err != nil {
		if hasWAL && isSQLiteCode(err, sqlite3.SQLITE_READONLY_DIRECTORY, sqlite3.SQLITE_CANTOPEN) {
			return nil, fmt.Errorf("open database %s read-only: %w (its write-ahead log %s-wal holds changes that need the -shm file beside it, or a writable directory to create it in)", path, err, path)
		}
		return nil, err
	}
	return s, nil
}

// sqliteMagic starts every SQLite database file.
const sqliteMagic = "SQLite format 3\x00"

// readHeader returns the first 100 bytes of a database file (SQLite's file
// header), or fewer for a shorter file.
func readHeader(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	hdr := make([]byte, 100)
	n, err := io.ReadFull(f, hdr)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, err
	}
	if n < len(hdr) {
		return nil, nil
	}
	return hdr, nil
}

// openRead opens a read-only store and checks that it holds athenawatch's
// schema in a version this athenawatch can read.
func openRead(ctx context.Context, path string, q url.Values) (*Store, error) {
	db, err := sql.Open("sqlite", dsn(path, q))
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	db.SetMaxOpenConns(4)
	db.SetMaxIdleConns(4)
	s := &Store{db: db, gatherBound: defaultGatherBound}
	var tables int
	err = db.QueryRowContext(ctx, "SELECT (SELECT user_version FROM pragma_user_version), "+
		"(SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name IN ('queries', 'rejected'))").Scan(&s.version, &tables)
	if err != nil {
		db.Close()
		if isSQLiteCode(err, sqlite3.SQLITE_NOTADB) {
			return nil, fmt.Errorf("%w at %s: %v", ErrNoDatabase, path, err)
		}
		return nil, fmt.Errorf("open database %s read-only: %w", path, err)
	}
	current, err := schemaVersion()
	if err != nil {
		db.Close()
		return nil, err
	}
	switch {
	case s.version == 0 || tables < 2:
		db.Close()
		return nil, fmt.Errorf("%w at %s: an SQLite database without athenawatch's schema", ErrNoDatabase, path)
	case s.version > current:
		db.Close()
		return nil, fmt.Errorf("database %s: schema version %d is newer than this athenawatch (%d): upgrade athenawatch", path, s.version, current)
	}
	if err := db.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = 'queries_state_time')").Scan(&s.listIndexed); err != nil {
		db.Close()
		return nil, fmt.Errorf("open database %s read-only: %w", path, err)
	}
	return s, nil
}

// dsn is the driver's data source name for path with query parameters q.
// The path is escaped: '?', '#' and '%' in a file name would otherwise be
// read as URI syntax and open another file.
func dsn(path string, q url.Values) string {
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
}

// isSQLiteCode reports whether err is an SQLite error with one of codes
// (extended codes compare whole; a primary code also matches its extended
// codes).
func isSQLiteCode(err error, codes ...int) bool {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	for _, c := range codes {
		if e.Code() == c || e.Code()&0xff == c {
			return true
		}
	}
	return false
}

// Close closes the database.
func (s *Store) Close() error {
	if ms := s.mem.Load(); ms != nil {
		ms.close()
	}
	return s.db.Close()
}

func migrationNames() ([]string, error) {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	return names, nil
}

// schemaVersion is the schema version this athenawatch writes: the number of
// migrations.
func schemaVersion() (int, error) {
	names, err := migrationNames()
	return len(names), err
}

// migrate applies the migrations the database lacks, each in its own
// transaction. Each transaction takes the write lock first (BEGIN IMMEDIATE)
// and only then reads the schema version, so processes opening a new
// database at the same moment apply every migration exactly once: the
// others wait for the lock and then find the migration applied.
func (s *Store) migrate(ctx context.Context) error {
	names, err := migrationNames()
	if err != nil {
		return err
	}
	// SQLite answers SQLITE_BUSY at once, without waiting out the busy
	// timeout, to a connection that meets a new database while another
	// process is switching it to WAL (it cannot take the lock it would
	// wait on). That moment is short: wait it out, within the same bound.
	deadline := time.Now().Add(migrateBusyWait)
	pause := 5 * time.Millisecond
	for {
		done, err := s.migrateOne(ctx, names)
		if err != nil && isSQLiteCode(err, sqlite3.SQLITE_BUSY) && time.Now().Before(deadline) {
			select {
			case <-ctx.Done():
				return err
			case <-time.After(pause):
			}
			pause = min(2*pause, 250*time.Millisecond)
			continue
		}
		if err != nil || done {
			return err
		}
	}
}

// migrateBusyWait bounds how long opening waits for other processes that
// hold a new database's lock: the busy timeout of every connection.
const migrateBusyWait = 30 * time.Second

// migrateOne applies the next migration, or reports that none is left.
func (s *Store) migrateOne(ctx context.Context, names []string) (done bool, err error) {
	tx, err := s.db.BeginTx(ctx, nil) // BEGIN IMMEDIATE (_txlock)
	if err != nil {
		return false, fmt.Errorf("lock the database for migration: %w", err)
	}
	defer tx.Rollback()
	var version, objects int
	if err := tx.QueryRowContext(ctx, "SELECT (SELECT user_version FROM pragma_user_version), (SELECT COUNT(*) FROM sqlite_master)").Scan(&version, &objects); err != nil {
		return false, fmt.Errorf("read schema version: %w", err)
	}
	s.version = version
	switch {
	case version > len(names):
		return false, fmt.Errorf("database schema version %d is newer than this athenawatch (%d): upgrade athenawatch", version, len(names))
	case version == len(names):
		return true, tx.Commit()
	case version == 0 && objects > 0:
		// Tables but no schema version: another application's database,
		// which athenawatch must not add its tables to.
		return false, fmt.Errorf("%w: an SQLite database of another application (it has tables but no athenawatch schema version)", ErrNoDatabase)
	}
	body, err := migrations.ReadFile(names[version])
	if err != nil {
		return false, err
	}
	if _, err := tx.ExecContext(ctx, string(body)); err != nil {
		return false, fmt.Errorf("apply %s: %w", names[version], err)
	}
	// PRAGMA takes no parameters; version+1 is our own integer.
	if _, err := tx.ExecContext(ctx, "PRAGMA user_version = "+strconv.Itoa(version+1)); err != nil {
		return false, fmt.Errorf("record schema version: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("apply %s: %w", names[version], err)
	}
	s.version = version + 1
	return false, nil
}

func millis(t time.Time) int64 { return t.UnixMilli() }

func nullMillis(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMilli()
}

func fromMillis(ms sql.NullInt64) time.Time {
	if !ms.Valid {
		return time.Time{}
	}
	return time.UnixMilli(ms.Int64).UTC()
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// placeholders returns "?, ?, ..." with n marks.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// rowPlaceholders returns "(?, ?), (?, ?), ..." for rows rows of cols values.
func rowPlaceholders(rows, cols int) string {
	row := "(" + placeholders(cols) + ")"
	return strings.TrimSuffix(strings.Repeat(row+", ", rows), ", ")
}
