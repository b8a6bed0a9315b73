package bill

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/athenawatch/athenawatch/internal/bucket"
)

// object is one file of an export: its key relative to the location
// ("/"-separated), size and modification time.
type object struct {
	key  string
	size int64
	mod  time.Time
}

// objectStore is where an export is kept: a directory or an S3 prefix.
type objectStore interface {
	// list returns every object under the location.
	list(ctx context.Context) ([]object, error)
	// read returns a small object's bytes (a manifest).
	read(ctx context.Context, key string) ([]byte, error)
	// open returns the object for random access, with its size; closing
	// it releases whatever holds the bytes.
	open(ctx context.Context, key string) (readAtCloser, int64, error)
	// name is how messages name the object.
	name(key string) string
}

type readAtCloser interface {
	io.ReaderAt
	io.Closer
}

// maxManifestBytes bounds a manifest read into memory; AWS's list the
// columns and the data files, a few hundred KB at most.
const maxManifestBytes = 64 << 20

type dirStore struct{ root string }

func (d dirStore) list(ctx context.Context) ([]object, error) {
	var out []object
	err := filepath.WalkDir(d.root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if !e.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(d.root, p)
		if err != nil {
			return err
		}
		info, err := e.Info()
		if err != nil {
			return err
		}
		out = append(out, object{key: filepath.ToSlash(rel), size: info.Size(), mod: info.ModTime()})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list bill export %s: %w", d.root, err)
	}
	return out, nil
}

func (d dirStore) read(_ context.Context, key string) ([]byte, error) {
	f, err := os.Open(d.name(key))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readLimited(f)
}

func (d dirStore) open(_ context.Context, key string) (readAtCloser, int64, error) {
	f, err := os.Open(d.name(key))
	if err != nil {
		return nil, 0, err
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, info.Size(), nil
}

func (d dirStore) name(key string) string { return filepath.Join(d.root, filepath.FromSlash(key)) }

func readLimited(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxManifestBytes+1))
	if err == nil && len(b) > maxManifestBytes {
		err = fmt.Errorf("larger than %d MiB", maxManifestBytes>>20)
	}
	return b, err
}

type s3Store struct {
	client  *s3.Client
	bucket  string
	prefix  string // "" or ending in "/"
	timeout time.Duration
}

func openS3(ctx context.Context, cfg aws.Config, loc Location, timeout time.Duration, log *slog.Logger) (*s3Store, error) {
	client, err := bucket.Open(ctx, cfg, loc.Bucket, bucket.Options{Timeout: timeout, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("open bill export %s: %w", loc, err)
	}
	prefix := loc.Prefix
	if prefix != "" {
		prefix += "/"
	}
	return &s3Store{client: client, bucket: loc.Bucket, prefix: prefix, timeout: timeout}, nil
}

func (s *s3Store) list(ctx context.Context) ([]object, error) {
	var out []object
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: aws.String(s.bucket), Prefix: aws.String(s.prefix)})
	for p.HasMorePages() {
		cctx, cancel := context.WithTimeout(ctx, s.timeout)
		page, err := p.NextPage(cctx)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("list bill export s3://%s/%s: %w", s.bucket, s.prefix, err)
		}
		for _, o := range page.Contents {
			key := strings.TrimPrefix(aws.ToString(o.Key), s.prefix)
			if key == "" || strings.HasSuffix(key, "/") {
				continue
			}
			out = append(out, object{key: key, size: aws.ToInt64(o.Size), mod: aws.ToTime(o.LastModified)})
		}
	}
	return out, nil
}

func (s *s3Store) read(ctx context.Context, key string) ([]byte, error) {
	cctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	out, err := s.client.GetObject(cctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(s.prefix + key)})
	if err != nil {
		return nil, err
	}
	defer out.Body.Close()
	return readLimited(out.Body)
}

// open downloads the object into a temporary file: Parquet is read from
// its end (the footer) and by column chunks, and the file spares holding
// a large export in memory.
func (s *s3Store) open(ctx context.Context, key string) (readAtCloser, int64, error) {
	cctx, cancel := context.WithTimeout(ctx, 10*s.timeout)
	defer cancel()
	out, err := s.client.GetObject(cctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(s.prefix + key)})
	if err != nil {
		return nil, 0, err
	}
	defer out.Body.Close()
	f, err := os.CreateTemp("", "athenawatch-bill-*.parquet")
	if err != nil {
		return nil, 0, err
	}
	tf := &tempFile{File: f}
	n, err := io.Copy(f, out.Body)
	if err != nil {
		tf.Close()
		return nil, 0, fmt.Errorf("download: %w", err)
	}
	return tf, n, nil
}

func (s *s3Store) name(key string) string { return "s3://" + s.bucket + "/" + s.prefix + key }

// tempFile is removed when closed.
type tempFile struct{ *os.File }

func (t *tempFile) Close() error {
	err := t.File.Close()
	return errors.Join(err, os.Remove(t.Name()))
}

// exportFile is a data file or manifest of an export, placed by its key:
// <root>/{data,metadata}/BILLING_PERIOD=YYYY-MM/[<refresh>/]<file>.
type exportFile struct {
	object
	root    string // the export's folder, relative to the location
	period  string // YYYY-MM
	refresh string // the refresh subfolder ("create new" delivery), or ""
	meta    bool
}

// placeFile reads where a key sits in an export; ok is false for keys
// that are no export file. BILLING_PERIOD= is matched in any case.
func placeFile(o object) (exportFile, bool) {
	segs := strings.Split(o.key, "/")
	for i := 1; i < len(segs)-1; i++ {
		period, ok := cutFold(segs[i], "BILLING_PERIOD=")
		if !ok {
			continue
		}
		if _, err := time.Parse("2006-01", period); err != nil {
			return exportFile{}, false
		}
		kind := segs[i-1]
		if kind != "data" && kind != "metadata" {
			return exportFile{}, false
		}
		return exportFile{object: o, root: strings.Join(segs[:i-1], "/"), period: period,
			refresh: strings.Join(segs[i+1:len(segs)-1], "/"), meta: kind == "metadata"}, true
	}
	return exportFile{}, false
}

// cutFold is strings.CutPrefix ignoring ASCII case.
func cutFold(s, prefix string) (string, bool) {
	if len(s) < len(prefix) || !strings.EqualFold(s[:len(prefix)], prefix) {
		return s, false
	}
	return s[len(prefix):], true
}

func isManifest(key string) bool {
	return strings.HasSuffix(strings.ToLower(key), "-manifest.json")
}

func isParquet(key string) bool { return strings.HasSuffix(strings.ToLower(key), ".parquet") }

func isCSV(key string) bool {
	k := strings.ToLower(key)
	return strings.HasSuffix(k, ".csv") || strings.HasSuffix(k, ".csv.gz")
}

// manifest is the part of an export's Manifest.json this reader uses.
type manifest struct {
	DataFiles []string `json:"dataFiles"`
}

// locate finds the data files to read: per billing period that overlaps
// the window, those the period's newest manifest lists (AWS recommends
// reading the list rather than the folder), or, without a usable
// manifest, the Parquet files of the period's newest refresh folder.
// Files a manifest lists that do not exist are named in b.Skipped.
func locate(ctx context.Context, src objectStore, loc Location, since, until time.Time, b *Bill) ([]string, error) {
	objs, err := src.list(ctx)
	if err != nil {
		return nil, err
	}
	exists := make(map[string]bool, len(objs))
	byPeriod := map[string][]exportFile{}
	roots := map[string]bool{}
	csv := 0
	for _, o := range objs {
		exists[o.key] = true
		f, ok := placeFile(o)
		if !ok {
			continue
		}
		switch {
		case f.meta && isManifest(o.key), !f.meta && isParquet(o.key):
			byPeriod[f.period] = append(byPeriod[f.period], f)
			roots[f.root] = true
		case !f.meta && isCSV(o.key):
			csv++
		}
	}
	switch {
	case len(roots) > 1:
		var names []string
		for r := range roots {
			names = append(names, src.name(r))
		}
		slices.Sort(names)
		return nil, fmt.Errorf("bill export %s holds several exports (%s): give the location of one", loc, strings.Join(names, ", "))
	case len(roots) == 0 && csv > 0:
		return nil, fmt.Errorf("bill export %s holds CSV files only: athenawatch reads exports in Parquet (choose Parquet as the export's file format)", loc)
	case len(roots) == 0:
		return nil, fmt.Errorf("no CUR 2.0 export under %s (no data/BILLING_PERIOD=YYYY-MM/*.parquet or metadata/.../*-Manifest.json)", loc)
	}
	var files []string
	for _, period := range slices.Sorted(maps.Keys(byPeriod)) {
		start, _ := time.Parse("2006-01", period)
		if (!until.IsZero() && !start.Before(until)) || (!since.IsZero() && !start.AddDate(0, 1, 0).After(since)) {
			continue
		}
		b.Periods = append(b.Periods, period)
		fs := byPeriod[period]
		if listed, ok := fromManifest(ctx, src, fs, exists, b); ok {
			files = append(files, listed...)
			continue
		}
		files = append(files, newestRefresh(fs)...)
	}
	return files, nil
}

// fromManifest returns the data files the newest manifest of a period
// lists, as keys relative to the location; ok is false when the period
// has no manifest that reads.
func fromManifest(ctx context.Context, src objectStore, fs []exportFile, exists map[string]bool, b *Bill) ([]string, bool) {
	var ms []exportFile
	for _, f := range fs {
		if f.meta {
			ms = append(ms, f)
		}
	}
	// Newest first: refresh folders are named for their time, and in
	// "overwrite" delivery the one manifest is rewritten in place.
	slices.SortFunc(ms, func(a, b exportFile) int {
		return cmp.Or(strings.Compare(b.refresh, a.refresh), b.mod.Compare(a.mod), strings.Compare(b.key, a.key))
	})
	for _, m := range ms {
		data, err := src.read(ctx, m.key)
		var man manifest
		if err == nil {
			err = json.Unmarshal(data, &man)
		}
		if err == nil && len(man.DataFiles) == 0 {
			err = errors.New("it lists no data files")
		}
		if err != nil {
			b.Skipped = append(b.Skipped, Skipped{Name: src.name(m.key), Reason: "manifest unreadable: " + err.Error()})
			continue
		}
		var keys []string
		seen := map[string]bool{}
		for _, uri := range man.DataFiles {
			key, ok := manifestDataKey(m.root, uri)
			// A file listed twice, or one of another billing period (which
			// that period's own manifest lists), would count its cost twice.
			var period string
			if ok {
				if f, placed := placeFile(object{key: key}); placed {
					period = f.period
				}
			}
			switch {
			case !ok:
				b.Skipped = append(b.Skipped, Skipped{Name: src.name(m.key), Reason: fmt.Sprintf("lists %q, which is no data file of this export", uri)})
			case period != m.period:
				b.Skipped = append(b.Skipped, Skipped{Name: src.name(m.key), Reason: fmt.Sprintf("lists %q, a file of billing period %q, not of its own %s", uri, period, m.period)})
			case seen[key]:
				b.Skipped = append(b.Skipped, Skipped{Name: src.name(m.key), Reason: fmt.Sprintf("lists %q twice", uri)})
			case !exists[key]:
				b.Skipped = append(b.Skipped, Skipped{Name: src.name(key), Reason: "listed by manifest " + src.name(m.key) + " but missing"})
			default:
				seen[key] = true
				keys = append(keys, key)
			}
		}
		return keys, true
	}
	return nil, false
}

// manifestDataKey places a manifest's data file URI (s3://bucket/<prefix>/<export
// -name>/data/...) under the export's root as this location sees it, so
// that an export copied elsewhere (another bucket, a directory) reads
// the same.
func manifestDataKey(root, uri string) (string, bool) {
	u, err := url.Parse(uri)
	if err != nil {
		return "", false
	}
	segs := strings.Split(strings.TrimPrefix(u.Path, "/"), "/")
	for i := len(segs) - 2; i >= 1; i-- {
		if _, ok := cutFold(segs[i], "BILLING_PERIOD="); ok && segs[i-1] == "data" {
			return path.Join(root, strings.Join(segs[i-1:], "/")), true
		}
	}
	return "", false
}

// newestRefresh returns a period's Parquet files of its newest refresh
// folder, or those directly in the period's folder when it has none.
func newestRefresh(fs []exportFile) []string {
	newest := ""
	for _, f := range fs {
		if !f.meta && f.refresh > newest {
			newest = f.refresh
		}
	}
	var keys []string
	for _, f := range fs {
		if !f.meta && f.refresh == newest {
			keys = append(keys, f.key)
		}
	}
	slices.Sort(keys)
	return keys
}
