package awsemu

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// listing is one listing's entries in order: keys as they are, common
// prefixes marked with a leading "P:".
func listing(l *gofakes3.ObjectList) []string {
	var out []string
	for _, c := range l.Contents {
		out = append(out, c.Key)
	}
	for _, p := range l.CommonPrefixes {
		out = append(out, "P:"+p.Prefix)
	}
	slices.SortFunc(out, func(a, b string) int {
		return strings.Compare(strings.TrimPrefix(a, "P:"), strings.TrimPrefix(b, "P:"))
	})
	return out
}

// wantListing is what S3 lists of keys: those after marker under prefix,
// rolled up at the delimiter.
func wantListing(keys map[string]bool, prefix, delim, marker string) []string {
	var out []string
	seen := map[string]bool{}
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range keys {
			if !yield(k) {
				return
			}
		}
	}) {
		if !strings.HasPrefix(k, prefix) || (marker != "" && k <= marker) {
			continue
		}
		if i := strings.Index(k[len(prefix):], delim); delim != "" && i >= 0 {
			cp := k[:len(prefix)+i+len(delim)]
			if !seen[cp] {
				seen[cp] = true
				out = append(out, "P:"+cp)
			}
			continue
		}
		out = append(out, k)
	}
	return out
}

// TestS3ListingFollowsEveryChange: after random puts, copies and deletes,
// every listing (prefix, delimiter, marker, pages of any size) is what S3
// lists of the bucket's keys, and a whole listing without a delimiter is
// the one gofakes3's own backend gives, sizes and ETags included.
func TestS3ListingFollowsEveryChange(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(7, 11))
	b := newMemBackend(s3mem.New())
	ref := s3mem.New()
	for _, be := range []gofakes3.Backend{b, ref} {
		if err := be.CreateBucket("b"); err != nil {
			t.Fatal(err)
		}
	}
	parts := []string{"a", "b", "a/", "ab", "/", "x/y", "é", "a/b/"}
	randKey := func() string {
		var sb strings.Builder
		for range 1 + rng.IntN(4) {
			sb.WriteString(parts[rng.IntN(len(parts))])
		}
		return sb.String()
	}
	keys := map[string]bool{}
	for step := range 600 {
		k := randKey()
		switch op := rng.IntN(10); {
		case op < 6:
			body := []byte(fmt.Sprint(step))
			for _, be := range []gofakes3.Backend{b, ref} {
				if _, err := be.PutObject("b", k, map[string]string{}, bytes.NewReader(body), int64(len(body)), nil); err != nil {
					t.Fatal(err)
				}
			}
			keys[k] = true
		case op < 7:
			if !keys[k] {
				continue
			}
			dst := randKey()
			for _, be := range []gofakes3.Backend{b, ref} {
				if _, err := be.CopyObject("b", k, "b", dst, map[string]string{}); err != nil {
					t.Fatal(err)
				}
			}
			keys[dst] = true
		case op < 9:
			for _, be := range []gofakes3.Backend{b, ref} {
				if _, err := be.DeleteObject("b", k); err != nil {
					t.Fatal(err)
				}
			}
			delete(keys, k)
		default:
			k2 := randKey()
			for _, be := range []gofakes3.Backend{b, ref} {
				if _, err := be.DeleteMulti("b", k, k2); err != nil {
					t.Fatal(err)
				}
			}
			delete(keys, k)
			delete(keys, k2)
		}
		if step%20 != 19 {
			continue
		}
		for range 20 {
			prefix, delim, marker := "", "", ""
			if rng.IntN(3) > 0 {
				k := randKey()
				prefix = strings.ToValidUTF8(k[:min(len(k), 1+rng.IntN(3))], "")
			}
			if rng.IntN(2) == 0 {
				delim = "/"
			}
			if rng.IntN(3) == 0 {
				marker = randKey()
			}
			p := &gofakes3.Prefix{Prefix: prefix, HasPrefix: prefix != "", Delimiter: delim, HasDelimiter: delim != ""}
			want := wantListing(keys, prefix, delim, marker)
			whole, err := b.ListBucket("b", p, gofakes3.ListBucketPage{Marker: marker, HasMarker: marker != ""})
			if err != nil {
				t.Fatal(err)
			}
			if got := listing(whole); !slices.Equal(got, want) || whole.IsTruncated {
				t.Fatalf("step %d prefix %q delim %q marker %q: listed %q (truncated %v), want %q", step, prefix, delim, marker, got, whole.IsTruncated, want)
			}
			// Pages: each at most MaxKeys, together the whole, each
			// truncated exactly when more follows.
			size := int64(1 + rng.IntN(4))
			var paged []string
			m := marker
			for pages := 0; ; pages++ {
				if pages > len(want)+1 {
					t.Fatalf("prefix %q delim %q: pages do not end", prefix, delim)
				}
				l, err := b.ListBucket("b", p, gofakes3.ListBucketPage{Marker: m, HasMarker: m != "", MaxKeys: size})
				if err != nil {
					t.Fatal(err)
				}
				got := listing(l)
				if int64(len(got)) > size {
					t.Fatalf("page of %d entries, MaxKeys %d", len(got), size)
				}
				paged = append(paged, got...)
				if !l.IsTruncated {
					break
				}
				if l.NextMarker == "" || len(got) == 0 {
					t.Fatalf("truncated page %q without a next marker", got)
				}
				m = l.NextMarker
			}
			if !slices.Equal(paged, want) {
				t.Fatalf("step %d prefix %q delim %q marker %q size %d: pages %q, want %q", step, prefix, delim, marker, size, paged, want)
			}
			// gofakes3's backend agrees on whole listings without a
			// delimiter (with one, its rolling up of keys differs from S3's).
			if delim != "" || marker != "" {
				continue
			}
			theirs, err := ref.ListBucket("b", p, gofakes3.ListBucketPage{})
			if err != nil {
				t.Fatal(err)
			}
			if got, ref := listing(whole), listing(theirs); !slices.Equal(got, ref) {
				t.Fatalf("prefix %q delim %q: listed %q, gofakes3's backend %q", prefix, delim, got, ref)
			}
			for i, c := range whole.Contents {
				r := theirs.Contents[i]
				if c.Key != r.Key || c.Size != r.Size || c.ETag != r.ETag {
					t.Fatalf("entry %+v, gofakes3's backend %+v", c, r)
				}
			}
		}
	}
}

// TestS3ListPagesThroughSDK: a delimiter listing paged two entries at a
// time through the SDK gives every common prefix once and ends.
func TestS3ListPagesThroughSDK(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	en := newEnv(t, nil)
	c := en.s3(en.emu.AddUser("111122223333", "lister"), 1)
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("trail")}); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, acct := range []string{"111111111111", "222222222222", "333333333333"} {
		want = append(want, "AWSLogs/"+acct+"/")
		for i := range 3 {
			k := fmt.Sprintf("AWSLogs/%s/CloudTrail/us-east-1/2026/11/25/%d.json.gz", acct, i)
			if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("trail"), Key: aws.String(k), Body: strings.NewReader("{}")}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("trail"), Key: aws.String("AWSLogs/readme"), Body: strings.NewReader("x")}); err != nil {
		t.Fatal(err)
	}
	want = append(want, "AWSLogs/readme")
	var got []string
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String("trail"), Prefix: aws.String("AWSLogs/"), Delimiter: aws.String("/"), MaxKeys: aws.Int32(2)})
	for pages := 0; p.HasMorePages(); pages++ {
		if pages > 5 {
			t.Fatal("pages do not end")
		}
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, cp := range out.CommonPrefixes {
			got = append(got, *cp.Prefix)
		}
		for _, o := range out.Contents {
			got = append(got, *o.Key)
			if o.LastModified == nil || o.LastModified.IsZero() || *o.Size != 1 {
				t.Fatalf("object %+v", o)
			}
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("listed %q, want %q", got, want)
	}
}

// TestS3ListingFollowsConcurrentChanges: puts and deletes of the same keys
// from many goroutines at once leave the index listing what the backend
// holds.
func TestS3ListingFollowsConcurrentChanges(t *testing.T) {
	t.Parallel()
	b := newMemBackend(s3mem.New())
	if err := b.CreateBucket("b"); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 3))
			for range 3000 {
				k := fmt.Sprintf("k%02d", rng.IntN(3))
				if rng.IntN(2) == 0 {
					_, _ = b.PutObject("b", k, map[string]string{}, strings.NewReader("x"), 1, nil)
				} else {
					_, _ = b.DeleteObject("b", k)
				}
			}
		})
	}
	wg.Wait()
	got, err := b.ListBucket("b", nil, gofakes3.ListBucketPage{})
	if err != nil {
		t.Fatal(err)
	}
	want, err := b.Backend.ListBucket("b", nil, gofakes3.ListBucketPage{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(listing(got), listing(want)) || !slices.Equal(b.idx.keys["b"], listing(want)) {
		t.Fatalf("index %q, listed %q; the backend holds %q", b.idx.keys["b"], listing(got), listing(want))
	}
}
