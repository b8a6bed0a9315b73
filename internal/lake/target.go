package lake

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// Target is where the lake's objects go: a directory or an S3 prefix.
// Put replaces an object whole: a reader sees the old object or the new
// one, never part of one; an interrupted Put leaves the old object.
type Target interface {
	// String names the target as the user gave it, for messages and for
	// the store's record of what the target holds.
	String() string
	// Put writes the object at key (a slash-separated path under the
	// target) from the file f, size bytes, already complete on disk.
	Put(ctx context.Context, key string, f *os.File, size int64) error
	// Delete removes the object at key; a missing object is no error.
	Delete(ctx context.Context, key string) error
	// Location is the URL of key's folder that Athena or DuckDB reads.
	Location(key string) string
}

// Dir is a target directory. Put writes a hidden temporary file next to
// the object (hidden names are outside every reader's *.parquet glob and
// outside Hive's listing), syncs it and renames it over the object: a
// rename is atomic on one filesystem.
type Dir struct{ Path string }

func (d Dir) String() string { return "dir:" + d.Path }

func (d Dir) Location(key string) string { return filepath.Join(d.Path, filepath.FromSlash(key)) }

func (d Dir) Put(ctx context.Context, key string, f *os.File, size int64) error {
	dst := d.Location(key)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("write %s: %w", dst, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", dst, err)
	}
	defer os.Remove(tmp.Name()) // after the rename, nothing is there
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", dst, err)
	}
	if _, err := io.Copy(tmp, &ctxReader{ctx: ctx, r: f}); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", dst, err)
	}
	// CreateTemp makes files only their owner reads; the lake is for
	// whoever reads the directory.
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", dst, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", dst, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", dst, err)
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return fmt.Errorf("write %s: %w", dst, err)
	}
	// The rename is durable once the directory is synced.
	dir, err := os.Open(filepath.Dir(dst))
	if err != nil {
		return fmt.Errorf("sync %s: %w", filepath.Dir(dst), err)
	}
	defer dir.Close()
	if err := dir.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", filepath.Dir(dst), err)
	}
	return nil
}

func (d Dir) Delete(_ context.Context, key string) error {
	p := d.Location(key)
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", p, err)
	}
	// Leave no empty partition folder behind.
	os.Remove(filepath.Dir(p))
	return nil
}

// ctxReader stops a copy when ctx ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// objectPutter is the part of the S3 client an S3 target uses.
type objectPutter interface {
	PutObject(ctx context.Context, in *s3.PutObjectInput, opts ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	DeleteObject(ctx context.Context, in *s3.DeleteObjectInput, opts ...func(*s3.Options)) (*s3.DeleteObjectOutput, error)
}

// S3 is a target S3 prefix. A PutObject is atomic: S3 makes the new
// object visible whole when the upload completes, and a failed or
// interrupted upload leaves the old one.
type S3 struct {
	Client objectPutter
	Bucket string
	Prefix string
	// Timeout bounds each call; 0 is 10 minutes (a large day on a slow
	// link).
	Timeout time.Duration
}

func (s S3) String() string {
	if s.Prefix == "" {
		return "s3://" + s.Bucket
	}
	return "s3://" + s.Bucket + "/" + s.Prefix
}

func (s S3) key(key string) string {
	if s.Prefix == "" {
		return key
	}
	return s.Prefix + "/" + key
}

func (s S3) Location(key string) string { return "s3://" + s.Bucket + "/" + s.key(key) }

func (s S3) timeout() time.Duration {
	if s.Timeout > 0 {
		return s.Timeout
	}
	return 10 * time.Minute
}

// S3 allows one PutObject of up to 5 GiB.
const maxPutBytes = 5 << 30

func (s S3) Put(ctx context.Context, key string, f *os.File, size int64) error {
	if size > maxPutBytes {
		return fmt.Errorf("put %s: %d bytes is more than one PutObject takes (5 GiB)", s.Location(key), size)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("put %s: %w", s.Location(key), err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout())
	defer cancel()
	contentType := "application/octet-stream"
	if strings.HasSuffix(key, ".csv") {
		contentType = "text/csv"
	}
	_, err := s.Client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(s.Bucket), Key: aws.String(s.key(key)), Body: f,
		ContentLength: aws.Int64(size), ContentType: aws.String(contentType),
	})
	if err != nil {
		return fmt.Errorf("put %s: %w", s.Location(key), err)
	}
	return nil
}

func (s S3) Delete(ctx context.Context, key string) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout())
	defer cancel()
	_, err := s.Client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String(s.key(key))})
	var ae smithy.APIError
	if err != nil && !(errors.As(err, &ae) && ae.ErrorCode() == "NoSuchKey") {
		return fmt.Errorf("delete %s: %w", s.Location(key), err)
	}
	return nil
}
