package orgsim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"golang.org/x/sync/errgroup"
)

// OrganizationID is the simulated organization's id, which an
// organization trail puts into its keys: AWSLogs/<id>/<account>/CloudTrail/...
const OrganizationID = "o-a1b2c3d4e5"

// Delivery puts a written trail into an S3 bucket as an organization trail
// delivers it. Objects arrive out of key order, as CloudTrail's deliveries
// for many accounts and regions interleave.
type Delivery struct {
	Bucket string
	// Prefix is the trail's S3 key prefix ("" for none).
	Prefix string
	// Seed orders the uploads.
	Seed uint64
	// Concurrency bounds the uploads in flight (0: 8).
	Concurrency int
}

// TrailObjects lists the files of a trail directory written by a
// TrailWriter, by their keys in the organization layout.
func (d Delivery) TrailObjects(trailDir string) (map[string]string, error) {
	out := map[string]string{}
	err := filepath.WalkDir(trailDir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		rel, err := filepath.Rel(trailDir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		rest, ok := strings.CutPrefix(rel, "AWSLogs/")
		if !ok {
			return nil
		}
		key := "AWSLogs/" + OrganizationID + "/" + rest
		if d.Prefix != "" {
			key = strings.Trim(d.Prefix, "/") + "/" + key
		}
		out[key] = p
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list trail %s: %w", trailDir, err)
	}
	return out, nil
}

// Put uploads the objects (key to file) with client, creating the bucket
// when it does not exist, in an order shuffled by Seed.
func (d Delivery) Put(ctx context.Context, client *s3.Client, objects map[string]string) error {
	_, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(d.Bucket)})
	var ae smithy.APIError
	if err != nil && !(errors.As(err, &ae) && (ae.ErrorCode() == "BucketAlreadyOwnedByYou" || ae.ErrorCode() == "BucketAlreadyExists")) {
		return fmt.Errorf("create bucket %s: %w", d.Bucket, err)
	}
	keys := make([]string, 0, len(objects))
	for k := range objects {
		keys = append(keys, k)
	}
	// Sorted first, so that the shuffle alone decides the order.
	slices.Sort(keys)
	rng := rand.New(rand.NewPCG(d.Seed, 0x5eed))
	rng.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
	g, gctx := errgroup.WithContext(ctx)
	limit := d.Concurrency
	if limit <= 0 {
		limit = 8
	}
	g.SetLimit(limit)
	for _, k := range keys {
		g.Go(func() error {
			body, err := os.ReadFile(objects[k])
			if err != nil {
				return err
			}
			_, err = client.PutObject(gctx, &s3.PutObjectInput{Bucket: aws.String(d.Bucket), Key: aws.String(k), Body: bytes.NewReader(body)})
			if err != nil {
				return fmt.Errorf("put s3://%s/%s: %w", d.Bucket, k, err)
			}
			return nil
		})
	}
	return g.Wait()
}
