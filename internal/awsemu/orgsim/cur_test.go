package orgsim

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/parquet-go/parquet-go"
)

// TestCURExportReadsBackAsGroundTruth runs a simulation across a month's
// end, writes its bill as a CUR 2.0 export, reads every Parquet file back
// and checks that the Athena usage lines charge exactly what the ground
// truth's queries cost, in one line per account, region, workgroup, day
// and kind, with a manifest per billing period; and that the same export
// delivered to the emulator's S3 holds the same bytes.
func TestCURExportReadsBackAsGroundTruth(t *testing.T) {
	ctx := context.Background()
	end := time.Date(2026, 11, 2, 6, 0, 0, 0, time.UTC)
	res, _, srv, err := RunLocal(ctx, Config{Seed: 5, Start: end.Add(-60 * time.Hour), End: end, QueriesPerDay: 150, NoiseRatio: -1, DuplicateRate: -1},
		filepath.Join(t.TempDir(), "trail"), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()

	// The ground truth, computed here from the queries alone.
	type key struct {
		account, region, workgroup, day string
		dpu                             bool
	}
	wantUSD := map[key]float64{}
	var wantTotal float64
	provisioned := 0
	for _, q := range res.Queries {
		k := key{q.Account, q.Region, q.Workgroup, q.Submitted.UTC().Format(time.DateOnly), q.Provisioned}
		var usd float64
		if q.Provisioned {
			provisioned++
			if q.State == "SUCCEEDED" || q.State == "FAILED" || q.State == "CANCELLED" {
				usd = q.DPUCount * float64(q.EngineTime.Milliseconds()) / 3.6e6 * 0.30
			}
		} else {
			usd = float64(q.BilledBytes()) / (1 << 40) * 5.0
		}
		if usd > 0 {
			wantUSD[k] += usd
			wantTotal += usd
		}
	}
	if provisioned == 0 || len(wantUSD) < 10 {
		t.Fatalf("the simulation must bill several groups and provisioned capacity: %d groups, %d provisioned queries", len(wantUSD), provisioned)
	}

	exp := CURExport{Bucket: "org-billing", Prefix: "cur"}
	dir := t.TempDir()
	root, err := exp.WriteDir(res, dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "cur", DefaultExportName); root != want {
		t.Fatalf("export root %s, want %s", root, want)
	}
	gotUSD := map[key]float64{}
	var gotTotal float64
	taxes, others := 0, 0
	for _, period := range []string{"2026-10", "2026-11"} {
		dataKey := "cur/athena-costs/data/BILLING_PERIOD=" + period + "/athena-costs-00001.snappy.parquet"
		var m struct {
			DataFiles []string `json:"dataFiles"`
		}
		b, err := os.ReadFile(filepath.Join(root, "metadata", "BILLING_PERIOD="+period, "athena-costs-Manifest.json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &m); err != nil || len(m.DataFiles) != 1 || m.DataFiles[0] != "s3://org-billing/"+dataKey {
			t.Fatalf("manifest of %s lists %v (%v), want [s3://org-billing/%s]", period, m.DataFiles, err, dataKey)
		}
		f, err := os.Open(filepath.Join(dir, filepath.FromSlash(dataKey)))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		pf, err := parquet.OpenFile(f, mustSize(t, f))
		if err != nil {
			t.Fatal(err)
		}
		if c := pf.Metadata().RowGroups[0].Columns[0].MetaData.Codec; c.String() != "SNAPPY" {
			t.Errorf("%s: codec %v, want SNAPPY", dataKey, c)
		}
		rows := make([]curLine, pf.NumRows())
		r := parquet.NewGenericReader[curLine](f)
		if n, err := r.Read(rows); int64(n) != pf.NumRows() || (err != nil && err != io.EOF) {
			t.Fatalf("read %s: %d rows, %v", dataKey, n, err)
		}
		for _, l := range rows {
			if !l.BillBillingPeriodStartDate.Equal(mustMonth(t, period)) || l.BillPayerAccountID != res.ManagementAccount || l.LineItemCurrencyCode != "USD" {
				t.Errorf("line %+v: wrong bill columns", l)
			}
			switch {
			case l.LineItemType == LineItemTax:
				taxes++
				continue
			case l.LineItemProductCode != ProductAthena:
				others++
				continue
			}
			dpu := strings.HasSuffix(l.LineItemUsageType, UsageDPU)
			wg := strings.TrimPrefix(l.LineItemResourceID, "arn:aws:athena:"+l.ProductRegionCode+":"+l.LineItemUsageAccountID+":workgroup/")
			k := key{l.LineItemUsageAccountID, l.ProductRegionCode, wg, l.LineItemUsageStartDate.Format(time.DateOnly), dpu}
			if _, dup := gotUSD[k]; dup {
				t.Errorf("two lines for %+v", k)
			}
			if !l.LineItemUsageEndDate.Equal(l.LineItemUsageStartDate.Add(24*time.Hour)) || l.LineItemUsageStartDate.Hour() != 0 {
				t.Errorf("line %+v is not a whole UTC day", k)
			}
			if l.Product["product_name"] != "Amazon Athena" || l.Product["region"] != l.ProductRegionCode || l.LineItemOperation != "RunQuery" {
				t.Errorf("line %+v: product %v, operation %q", k, l.Product, l.LineItemOperation)
			}
			rate := 5.0
			if dpu {
				rate = 0.30
			}
			if l.LineItemUnblendedRate != "5.0000000000" && !dpu || math.Abs(l.LineItemUsageAmount*rate-l.LineItemUnblendedCost) > 1e-12 {
				t.Errorf("line %+v: %v at %s is not %v", k, l.LineItemUsageAmount, l.LineItemUnblendedRate, l.LineItemUnblendedCost)
			}
			gotUSD[k] = l.LineItemUnblendedCost
			gotTotal += l.LineItemUnblendedCost
		}
	}
	if taxes == 0 || others == 0 {
		t.Errorf("%d tax lines and %d lines of other services, want some of each", taxes, others)
	}
	if len(gotUSD) != len(wantUSD) {
		t.Errorf("%d Athena usage lines, want %d", len(gotUSD), len(wantUSD))
	}
	for k, want := range wantUSD {
		if got := gotUSD[k]; math.Abs(got-want) > 1e-9 {
			t.Errorf("%+v: billed %v, ground truth %v", k, got, want)
		}
	}
	if math.Abs(gotTotal-wantTotal) > 1e-9 {
		t.Errorf("total billed %v, ground truth %v", gotTotal, wantTotal)
	}

	// The same export in the emulator's S3.
	c := res.CollectorCredentials
	client := s3.NewFromConfig(aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, "")}, func(o *s3.Options) { o.UsePathStyle = true })
	if err := exp.Put(ctx, client, res); err != nil {
		t.Fatal(err)
	}
	objKey := "cur/athena-costs/data/BILLING_PERIOD=2026-11/athena-costs-00001.snappy.parquet"
	out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("org-billing"), Key: aws.String(objKey)})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(out.Body)
	out.Body.Close()
	onDisk, _ := os.ReadFile(filepath.Join(dir, filepath.FromSlash(objKey)))
	if len(body) == 0 || string(body) != string(onDisk) {
		t.Errorf("s3://org-billing/%s holds %d bytes, the directory export %d", objKey, len(body), len(onDisk))
	}
}

func mustSize(t *testing.T, f *os.File) int64 {
	t.Helper()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

func mustMonth(t *testing.T, period string) time.Time {
	t.Helper()
	m, err := time.Parse("2006-01", period)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
