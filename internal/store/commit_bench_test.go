package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/athenawatch/athenawatch/internal/cloudtrail"
)

// benchQueries returns n new queries as a collect of CloudTrail events
// produces them: pending, no statistics, identities of a handful of
// principals, random query ids, event times moving forward.
func benchQueries(rng *rand.Rand, n int, start time.Time, step time.Duration) []Query {
	regions := []string{"us-east-1", "eu-west-1", "eu-west-2"}
	accounts := []string{"111111111111", "222222222222", "333333333333"}
	type principal struct {
		id         cloudtrail.Identity
		user, role string
	}
	var principals []principal
	for i, a := range accounts {
		principals = append(principals,
			principal{cloudtrail.Identity{Type: "IAMUser", PrincipalID: "AIDAEXAMPLEPRINCIPAL" + a[:1], ARN: "arn:aws:iam::" + a + ":user/alice",
				AccountID: a, UserName: "alice"}, "alice", ""},
			principal{cloudtrail.Identity{Type: "AssumedRole", PrincipalID: "AROAEXAMPLEROLEID0" + a[:1] + ":bob@example.com",
				ARN: "arn:aws:sts::" + a + ":assumed-role/AWSReservedSSO_DataScientist_3f9a1c2b7d4e5a60/bob@example.com", AccountID: a,
				IssuerType: "Role", IssuerUserName: "AWSReservedSSO_DataScientist_3f9a1c2b7d4e5a60",
				IssuerARN: "arn:aws:iam::" + a + ":role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_DataScientist_3f9a1c2b7d4e5a60"},
				"bob@example.com", "AWSReservedSSO_DataScientist_3f9a1c2b7d4e5a60"},
			principal{cloudtrail.Identity{Type: "AssumedRole", PrincipalID: "AROAEXAMPLEROLEID1" + a[:1] + ":i-0abc" + fmt.Sprint(i),
				ARN: "arn:aws:sts::" + a + ":assumed-role/etl-nightly/i-0abc" + fmt.Sprint(i), AccountID: a,
				IssuerType: "Role", IssuerUserName: "etl-nightly", IssuerARN: "arn:aws:iam::" + a + ":role/etl-nightly", SourceIdentity: ""},
				"etl-nightly", "etl-nightly"},
		)
	}
	uuid := func() string {
		return fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x", rng.Uint32(), rng.Uint32()&0xffff, rng.Uint32()&0xfff, rng.Uint32()&0x3fff|0x8000, rng.Uint64()&0xffffffffffff)
	}
	out := make([]Query, n)
	for i := range out {
		p := principals[rng.IntN(len(principals))]
		t := start.Add(time.Duration(i) * step)
		out[i] = Query{
			Region: regions[rng.IntN(len(regions))], QueryID: uuid(), EventID: uuid(), EventTime: t,
			OwnerAccount: p.id.AccountID, Identity: p.id,
			CTDatabase: "sales", CTCatalog: "AwsDataCatalog", CTWorkgroup: "analysts", ClientRequestToken: uuid(),
			SourceIP: "10.1.2.3", UserAgent: "Boto3/1.34.144 md/Botocore#1.34.144 ua/2.0 os/linux#5.10.219 md/arch#x86_64 lang/python#3.11.9",
			User: p.user, Role: p.role, Account: p.id.AccountID, Team: "unassigned", Database: "sales", Workgroup: "analysts",
			RulesFingerprint: "9f2c1e0b7a6d5c4b3a29181706f5e4d3c2b1a09f8e7d6c5b4a392817f6e5d4c3",
			StatsStatus:      StatusPending,
		}
	}
	return out
}

// Benchmarks of writing new queries, as collect does, into a fresh
// database: rows/s is the store's insert rate. ATHENAWATCH_BENCH_ROWS sets
// how many queries each iteration writes (default 100,000; the cost per
// row grows with the database, so try 1000000 too), and
// ATHENAWATCH_BENCH_STEP the time between two queries (default 20ms; a
// longer step spreads them over more hours, and so over more rollup rows).

// BenchmarkCommit writes batches of 20,000 queries, one Commit each.
func BenchmarkCommit(b *testing.B) {
	benchWrite(b, 20000, 20000)
}

// BenchmarkTx writes batches of 4,096 queries into transactions of
// 100,000 (ATHENAWATCH_BENCH_TX), as the collector does.
func BenchmarkTx(b *testing.B) {
	perTx := 100000
	if n, err := strconv.Atoi(os.Getenv("ATHENAWATCH_BENCH_TX")); err == nil && n > 0 {
		perTx = n
	}
	benchWrite(b, 4096, perTx)
}

func benchWrite(b *testing.B, batch, perTx int) {
	total := 100000
	if n, err := strconv.Atoi(os.Getenv("ATHENAWATCH_BENCH_ROWS")); err == nil && n > 0 {
		total = n
	}
	step := 20 * time.Millisecond
	if d, err := time.ParseDuration(os.Getenv("ATHENAWATCH_BENCH_STEP")); err == nil && d > 0 {
		step = d
	}
	qs := benchQueries(rand.New(rand.NewPCG(1, 2)), total, time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC), step)
	ctx := context.Background()
	var rows int
	for b.Loop() {
		b.StopTimer()
		st, err := Open(ctx, filepath.Join(b.TempDir(), "bench.db"))
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		var tx *Tx
		var inTx int
		for i := 0; i < total; i += batch {
			part := qs[i:min(i+batch, total)]
			cps := []Checkpoint{{Source: "dir:/bench", Name: fmt.Sprintf("f%07d.json.gz", i), Status: CheckpointDone, Queries: len(part)}}
			if perTx <= batch {
				res, err := st.Commit(ctx, &Batch{Queries: part, Checkpoints: cps})
				if err != nil {
					b.Fatal(err)
				}
				rows += res.NewQueries
				continue
			}
			if tx == nil {
				if tx, err = st.Begin(ctx); err != nil {
					b.Fatal(err)
				}
			}
			res, err := tx.Add(ctx, &Batch{Queries: part, Checkpoints: cps})
			if err != nil {
				b.Fatal(err)
			}
			rows += res.NewQueries
			if inTx += len(part); inTx >= perTx || i+batch >= total {
				if err := tx.Commit(); err != nil {
					b.Fatal(err)
				}
				tx, inTx = nil, 0
			}
		}
		b.StopTimer()
		st.Close()
		b.StartTimer()
	}
	if rows != total*b.N {
		b.Fatalf("%d rows inserted, want %d", rows, total*b.N)
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
}
