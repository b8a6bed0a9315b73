package storegen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

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
