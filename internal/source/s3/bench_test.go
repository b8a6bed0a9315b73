package s3

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/athenawatch/athenawatch/internal/awsemu"
)

// BenchmarkS3UnchangedBucket times a second collect over a bucket of
// 10,000 trail objects that did not change: in days long over (closed:
// not listed again), and in one day still open (listed from an hour
// before its last key). Neither may GET an object.
func BenchmarkS3UnchangedBucket(b *testing.B) {
	for _, bc := range []struct {
		name string
		put  func(env *bucketEnv)
		now  time.Time
	}{
		{"closed-days", func(env *bucketEnv) {
			for _, acct := range []string{"111111111111", "222222222222"} {
				for _, region := range []string{"us-east-1", "eu-west-1"} {
					for d := range 10 {
						for i := range 250 {
							at := day1.AddDate(0, 0, d).Add(time.Duration(i) * 5 * time.Minute)
							env.putLog(acct, region, at, fmt.Sprintf("C%04d", i), fmt.Sprintf("%s-%s-%d-%d", acct, region, d, i))
						}
					}
				}
			}
		}, time.Now()},
		{"open-day", func(env *bucketEnv) {
			for i := range 10000 {
				at := day1.Add(time.Duration(i) * 8 * time.Second)
				env.putLog("111111111111", "us-east-1", at, fmt.Sprintf("O%05d", i), fmt.Sprintf("q-%d", i))
			}
		}, day1.Add(23*time.Hour + 30*time.Minute)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			env := newBucket(b)
			bc.put(env)
			col, _ := newCollector(b)
			src := env.source("")
			src.Now = func() time.Time { return bc.now }
			if sum, err := col.Collect(context.Background(), src); err != nil || sum.Objects != 10000 {
				b.Fatalf("first collect: %+v, %v", sum, err)
			}
			gets := env.gets()
			lists := env.emu.S3Calls()[awsemu.S3ListObjects]
			b.ResetTimer()
			for b.Loop() {
				sum, err := col.Collect(context.Background(), src)
				if err != nil || sum.Objects != 0 || sum.NewQueries != 0 {
					b.Fatalf("second collect: %+v, %v", sum, err)
				}
			}
			b.StopTimer()
			if env.gets() != gets {
				b.Fatalf("%d GETs over an unchanged bucket", env.gets()-gets)
			}
			b.ReportMetric(float64(env.emu.S3Calls()[awsemu.S3ListObjects]-lists)/float64(b.N), "lists/op")
			b.ReportMetric(0, "gets/op")
		})
	}
}
