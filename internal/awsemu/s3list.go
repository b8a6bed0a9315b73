package awsemu

import (
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// keyIndex keeps every bucket's keys in order beside gofakes3's in-memory
// backend, so that a listing reads only the keys under its prefix.
//
// The backend answers a listing by walking every object of the bucket and
// splitting each key at the delimiter; a trail reader lists a bucket of an
// organization trail dozens of times, prefix by prefix, and each walk cost
// as much as the whole bucket. With the index a listing finds its first key
// by binary search, stops at the end of its prefix, and passes over all the
// keys of a common prefix at once.
//
// Between a change in the backend and its follow, a listing may find a key
// the backend no longer has (it is not listed) or miss one whose write has
// not yet been answered.
type keyIndex struct {
	mu   sync.RWMutex
	keys map[string][]string // bucket → its keys, sorted
}

// memBackend is gofakes3's in-memory backend with the key index and with
// bodies that write themselves out (see GetObject).
type memBackend struct {
	*s3mem.Backend
	idx *keyIndex
}

func newMemBackend(b *s3mem.Backend) memBackend {
	return memBackend{Backend: b, idx: &keyIndex{keys: map[string][]string{}}}
}

// insert and remove keep one bucket's keys sorted; the caller holds mu.
func (x *keyIndex) insert(bucket, key string) {
	ks := x.keys[bucket]
	i := sort.SearchStrings(ks, key)
	if i < len(ks) && ks[i] == key {
		return
	}
	ks = append(ks, "")
	copy(ks[i+1:], ks[i:])
	ks[i] = key
	x.keys[bucket] = ks
}

func (x *keyIndex) remove(bucket, key string) {
	ks := x.keys[bucket]
	i := sort.SearchStrings(ks, key)
	if i < len(ks) && ks[i] == key {
		x.keys[bucket] = append(ks[:i], ks[i+1:]...)
	}
}

// follow sets the index's entry for key to what the backend holds now.
// Every change of a key is followed by this, under the lock, once the
// backend has made it: whatever the order of concurrent changes, the last
// follow of a key reads the backend after the last change.
func (b memBackend) follow(bucket, key string) {
	b.idx.mu.Lock()
	defer b.idx.mu.Unlock()
	if _, err := b.Backend.HeadObject(bucket, key); err == nil {
		b.idx.insert(bucket, key)
	} else {
		b.idx.remove(bucket, key)
	}
}

// followBucket is follow for a bucket: a bucket the backend has is in the
// index, with the keys it already has there; one it has not is not.
func (b memBackend) followBucket(name string) {
	b.idx.mu.Lock()
	defer b.idx.mu.Unlock()
	if ok, err := b.Backend.BucketExists(name); err == nil && ok {
		if _, in := b.idx.keys[name]; !in {
			b.idx.keys[name] = nil
		}
	} else {
		delete(b.idx.keys, name)
	}
}

func (b memBackend) CreateBucket(name string) error {
	err := b.Backend.CreateBucket(name)
	b.followBucket(name)
	return err
}

func (b memBackend) DeleteBucket(name string) error {
	err := b.Backend.DeleteBucket(name)
	b.followBucket(name)
	return err
}

func (b memBackend) ForceDeleteBucket(name string) error {
	err := b.Backend.ForceDeleteBucket(name)
	b.followBucket(name)
	return err
}

func (b memBackend) PutObject(bucket, key string, meta map[string]string, input io.Reader, size int64, cond *gofakes3.PutConditions) (gofakes3.PutObjectResult, error) {
	res, err := b.Backend.PutObject(bucket, key, meta, input, size, cond)
	b.follow(bucket, key)
	return res, err
}

func (b memBackend) CopyObject(srcBucket, srcKey, dstBucket, dstKey string, meta map[string]string) (gofakes3.CopyObjectResult, error) {
	res, err := b.Backend.CopyObject(srcBucket, srcKey, dstBucket, dstKey, meta)
	b.follow(dstBucket, dstKey)
	return res, err
}

func (b memBackend) DeleteObject(bucket, key string) (gofakes3.ObjectDeleteResult, error) {
	res, err := b.Backend.DeleteObject(bucket, key)
	b.follow(bucket, key)
	return res, err
}

func (b memBackend) DeleteMulti(bucket string, keys ...string) (gofakes3.MultiDeleteResult, error) {
	res, err := b.Backend.DeleteMulti(bucket, keys...)
	for _, k := range keys {
		b.follow(bucket, k)
	}
	return res, err
}

// ListBucket lists as S3 does: keys after the marker that start with the
// prefix, in order; with a delimiter, the keys whose rest holds it are
// rolled up into one common prefix each. A page of MaxKeys entries (keys
// and common prefixes) is truncated only when another entry follows, and
// its NextMarker is the last key it covered, so that the next page starts
// after the whole of a common prefix it ended on.
func (b memBackend) ListBucket(name string, prefix *gofakes3.Prefix, page gofakes3.ListBucketPage) (*gofakes3.ObjectList, error) {
	var pre, delim string
	if prefix != nil {
		if prefix.HasPrefix {
			pre = prefix.Prefix
		}
		if prefix.HasDelimiter {
			delim = prefix.Delimiter
		}
	}
	b.idx.mu.RLock()
	defer b.idx.mu.RUnlock()
	keys, ok := b.idx.keys[name]
	if !ok {
		return nil, gofakes3.BucketNotFound(name)
	}
	out := gofakes3.NewObjectList()
	// The first key after the marker, and at or after the prefix.
	i := sort.Search(len(keys), func(i int) bool {
		return keys[i] >= pre && (page.Marker == "" || keys[i] > page.Marker)
	})
	var n int64
	for i < len(keys) && strings.HasPrefix(keys[i], pre) {
		if page.MaxKeys > 0 && n >= page.MaxKeys {
			out.IsTruncated = true
			break
		}
		key := keys[i]
		if j := strings.Index(key[len(pre):], delim); delim != "" && j >= 0 {
			cp := key[:len(pre)+j+len(delim)]
			out.AddPrefix(cp)
			// Past every key under the common prefix: they are contiguous.
			rest := keys[i:]
			i += sort.Search(len(rest), func(k int) bool { return !strings.HasPrefix(rest[k], cp) })
			out.NextMarker = keys[i-1]
			n++
			continue
		}
		obj, err := b.Backend.HeadObject(name, key)
		i++
		if err != nil {
			// Deleted, and not yet followed: not listed.
			continue
		}
		out.Add(&gofakes3.Content{
			Key:          key,
			LastModified: gofakes3.NewContentTime(lastModified(obj)),
			ETag:         gofakes3.FormatETag(obj.Hash),
			Size:         obj.Size,
		})
		out.NextMarker = key
		n++
	}
	if !out.IsTruncated {
		out.NextMarker = ""
	}
	return out, nil
}

// lastModified is the time an object was written, as its GET and HEAD
// answers give it (S3 keeps whole seconds). gofakes3 records it on every
// write; an object without it is listed without a time.
func lastModified(obj *gofakes3.Object) time.Time {
	t, err := http.ParseTime(obj.Metadata["Last-Modified"])
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}
