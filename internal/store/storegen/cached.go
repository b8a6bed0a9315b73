package storegen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"github.com/athenawatch/athenawatch/internal/store"
)

// CachedPath is where Cached keeps the store of n queries in dir; the
// bench/storegen command writes the same file.
func CachedPath(dir string, n int) string {
	return filepath.Join(dir, fmt.Sprintf("store-%d.db", n))
}

// Cached returns the path and stats of a store of n queries generated with
// the default options, kept in dir: benchmarks of every reader share one
// store, built once (a million queries take minutes). The stats live
// beside the database as PATH.json, written last, so a build cut short is
// built again.
func Cached(ctx context.Context, dir string, n int) (string, Stats, error) {
	path := CachedPath(dir, n)
	var stats Stats
	data, err := os.ReadFile(path + ".json")
	switch {
	case err == nil:
		if err := json.Unmarshal(data, &stats); err != nil {
			return "", stats, fmt.Errorf("read %s.json: %w", path, err)
		}
		return path, stats, nil
	case !errors.Is(err, fs.ErrNotExist):
		return "", stats, err
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		os.Remove(p)
	}
	st, err := store.Open(ctx, path)
	if err != nil {
		return "", stats, err
	}
	stats, err = Generate(ctx, st, Options{Queries: n})
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", stats, err
	}
	return path, stats, WriteStats(path, stats)
}

// WriteStats writes stats beside the database at path, as PATH.json.
func WriteStats(path string, stats Stats) error {
	out, err := json.MarshalIndent(stats, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path+".json", append(out, '\n'), 0o644)
}

// CachedFromEnv is the store benchmarks read: Cached with
// ATHENAWATCH_BENCH_QUERIES queries (default 1,000,000) in
// ATHENAWATCH_BENCH_DIR, or, without ATHENAWATCH_BENCH_DIR, 100,000 queries
// (unless ATHENAWATCH_BENCH_QUERIES says otherwise) in the directory
// tempDir returns.
func CachedFromEnv(ctx context.Context, tempDir func() string) (string, Stats, error) {
	dir := os.Getenv("ATHENAWATCH_BENCH_DIR")
	n := 1_000_000
	if dir == "" {
		dir, n = tempDir(), 100_000
	}
	if v := os.Getenv("ATHENAWATCH_BENCH_QUERIES"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			return "", Stats{}, fmt.Errorf("ATHENAWATCH_BENCH_QUERIES: %w", err)
		}
	}
	return Cached(ctx, dir, n)
}
