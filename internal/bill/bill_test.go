package bill

import (
	"bytes"
	"context"
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
	"github.com/parquet-go/parquet-go/deprecated"

	"github.com/athenawatch/athenawatch/internal/awsemu"
)

var day1 = time.Date(2026, 10, 30, 0, 0, 0, 0, time.UTC)

// line is a CUR 2.0 line item with the columns this reader needs, typed
// as AWS's Parquet exports type them.
type line struct {
	Account   string            `parquet:"line_item_usage_account_id"`
	Type      string            `parquet:"line_item_line_item_type"`
	Product   string            `parquet:"line_item_product_code"`
	UsageType string            `parquet:"line_item_usage_type"`
	Resource  *string           `parquet:"line_item_resource_id,optional"`
	Start     time.Time         `parquet:"line_item_usage_start_date,timestamp(millisecond)"`
	Amount    float64           `parquet:"line_item_usage_amount"`
	Cost      float64           `parquet:"line_item_unblended_cost"`
	Region    string            `parquet:"product_region_code"`
	Unit      string            `parquet:"pricing_unit"`
	Product2  map[string]string `parquet:"product"`
}

// microsDecimalLine types the start as INT64 microseconds and the cost as
// a DECIMAL(18, 8) in an INT64, as other writers of the same export do.
type microsDecimalLine struct {
	Account   string `parquet:"line_item_usage_account_id"`
	Type      string `parquet:"line_item_line_item_type"`
	Product   string `parquet:"line_item_product_code"`
	UsageType string `parquet:"line_item_usage_type"`
	Resource  string `parquet:"line_item_resource_id"`
	Start     int64  `parquet:"line_item_usage_start_date,timestamp(microsecond)"`
	Amount    string `parquet:"line_item_usage_amount"`
	Cost      int64  `parquet:"line_item_unblended_cost,decimal(8:18)"`
}

// int96Line types the start as INT96 (Spark, Athena CTAS) and the cost as
// a DECIMAL in a fixed-length byte array.
type int96Line struct {
	Account   string           `parquet:"line_item_usage_account_id"`
	Type      string           `parquet:"line_item_line_item_type"`
	Product   string           `parquet:"line_item_product_code"`
	UsageType string           `parquet:"line_item_usage_type"`
	Resource  string           `parquet:"line_item_resource_id"`
	Start     deprecated.Int96 `parquet:"line_item_usage_start_date"`
	Cost      [8]byte          `parquet:"line_item_unblended_cost,decimal(4:18)"`
}

// noCostLine lacks line_item_unblended_cost.
type noCostLine struct {
	Account   string    `parquet:"line_item_usage_account_id"`
	Type      string    `parquet:"line_item_line_item_type"`
	Product   string    `parquet:"line_item_product_code"`
	UsageType string    `parquet:"line_item_usage_type"`
	Start     time.Time `parquet:"line_item_usage_start_date,timestamp(millisecond)"`
}

func parquetOf[T any](t testing.TB, rows []T) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[T](&buf, parquet.Compression(&parquet.Snappy))
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func ptr(s string) *string { return &s }

// athena is a scan line item of 0.1 TB at 5 USD of workgroup wg.
func athena(account, region, wg string, at time.Time, usd float64) line {
	arn := ptr("arn:aws:athena:" + region + ":" + account + ":workgroup/" + wg)
	return line{Account: account, Type: "Usage", Product: "AmazonAthena", UsageType: "USE1-DataScannedInTB", Resource: arn,
		Start: at, Amount: usd / 5, Cost: usd, Region: region, Unit: "Terabytes", Product2: map[string]string{"product_name": "Amazon Athena"}}
}

// goodLines are Athena usage of two accounts, a DPU line, a bare
// workgroup name and one with no resource id, plus what must be left
// out: tax, a credit, another service, a day outside the window.
func goodLines() []line {
	dpu := athena("222222222222", "eu-west-1", "reserved-bi", day1.Add(3*time.Hour), 0.9)
	dpu.UsageType, dpu.Unit, dpu.Amount = "EUW1-DPU-Hour", "DPU-Hour", 3
	bare := athena("111111111111", "us-east-1", "etl", day1.Add(24*time.Hour), 2)
	bare.Resource = ptr("etl")
	none := athena("111111111111", "us-east-1", "", day1.Add(24*time.Hour), 0.5)
	none.Resource = nil
	tax := athena("111111111111", "us-east-1", "primary", day1, 0.7)
	tax.Type = "Tax"
	credit := athena("111111111111", "us-east-1", "primary", day1, -3)
	credit.Type = "Credit"
	s3line := athena("111111111111", "us-east-1", "primary", day1, 9)
	s3line.Product = "AmazonS3"
	s3line.Cost = -1 // odd, but another service's business
	late := athena("111111111111", "us-east-1", "primary", day1.AddDate(0, 0, 5), 4)
	return []line{
		athena("111111111111", "us-east-1", "primary", day1.Add(time.Hour), 1),
		athena("111111111111", "us-east-1", "primary", day1.Add(2*time.Hour), 0.25),
		athena("333333333333", "us-east-1", "primary", day1, 3),
		dpu, bare, none, tax, credit, s3line, late,
	}
}

// files is an export: keys under the location and their contents.
type files map[string][]byte

func (fs files) write(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for k, b := range fs {
		p := filepath.Join(dir, filepath.FromSlash(k))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func manifestOf(uris ...string) []byte {
	return []byte(`{"exportName": "x", "dataFiles": ["` + strings.Join(uris, `", "`) + `"]}`)
}

const (
	dataKey = "cur/x/data/BILLING_PERIOD=2026-10/x-00001.snappy.parquet"
	metaKey = "cur/x/metadata/BILLING_PERIOD=2026-10/x-Manifest.json"
)

// want is a cell as a test expects it.
type want struct {
	account, region, workgroup, day string
	kind                            Kind
	usd                             float64
}

func cellsOf(b *Bill) []want {
	var out []want
	for _, c := range b.Cells {
		out = append(out, want{c.Account, c.Region, c.Workgroup, c.Day.Format(time.DateOnly), c.Kind, math.Round(c.USD*1e6) / 1e6})
	}
	return out
}

var goodCells = []want{
	{"111111111111", "us-east-1", "primary", "2026-10-30", Scan, 1.25},
	{"222222222222", "eu-west-1", "reserved-bi", "2026-10-30", DPU, 0.9},
	{"333333333333", "us-east-1", "primary", "2026-10-30", Scan, 3},
	{"111111111111", "us-east-1", "", "2026-10-31", Scan, 0.5},
	{"111111111111", "us-east-1", "etl", "2026-10-31", Scan, 2},
}

func TestRead(t *testing.T) {
	t.Parallel()
	good := parquetOf(t, goodLines())
	micros := parquetOf(t, []microsDecimalLine{{Account: "111111111111", Type: "Usage", Product: "AmazonAthena", UsageType: "DataScannedInTB",
		Resource: "arn:aws:athena:us-west-2:111111111111:workgroup/analysts", Start: day1.Add(5 * time.Hour).UnixMicro(), Amount: "0.2", Cost: 123_456_789}})
	var cost8 [8]byte
	for i, v := 0, int64(-1); i < 8; i++ { // -0.0001: a negative decimal
		cost8[7-i] = byte(v >> (8 * i))
	}
	var costPos [8]byte
	costPos[7] = 0x10 // 16 / 10^4
	jd := uint32(2440588 + day1.Unix()/86400)
	nanos := uint64(7 * time.Hour)
	int96 := parquetOf(t, []int96Line{
		{Account: "111111111111", Type: "Usage", Product: "AmazonAthena", UsageType: "EUW1-DataScannedInTB",
			Resource: "arn:aws:athena:eu-west-1:111111111111:workgroup/primary", Start: deprecated.Int96{uint32(nanos), uint32(nanos >> 32), jd}, Cost: costPos},
		{Account: "111111111111", Type: "Usage", Product: "AmazonAthena", UsageType: "EUW1-DataScannedInTB",
			Resource: "arn:aws:athena:eu-west-1:111111111111:workgroup/primary", Start: deprecated.Int96{uint32(nanos), uint32(nanos >> 32), jd}, Cost: cost8},
	})
	negative := goodLines()[:1]
	negative = append(negative, athena("111111111111", "us-east-1", "primary", day1, -2), athena("12345", "us-east-1", "primary", day1, 1),
		athena("not-an-id", "us-east-1", "primary", day1, 1))
	noCost := parquetOf(t, []noCostLine{{Account: "111111111111", Type: "Usage", Product: "AmazonAthena", UsageType: "DataScannedInTB", Start: day1}})
	second := parquetOf(t, []line{athena("111111111111", "us-east-1", "primary", day1, 10)})
	csv := []byte("line_item_usage_account_id\n111111111111\n")

	tests := []struct {
		name    string
		files   files
		loc     string // under the directory; "" = its root
		want    []want
		skipped []string // substrings of the skipped names and reasons, in order
		rows    int64
		err     string
	}{
		{name: "manifest", files: files{dataKey: good, metaKey: manifestOf("s3://org-billing/" + dataKey)}, want: goodCells},
		{name: "location is the export", files: files{dataKey: good, metaKey: manifestOf("s3://org-billing/" + dataKey)}, loc: "cur/x", want: goodCells},
		{name: "no manifest: the data folder is listed", files: files{dataKey: good}, want: goodCells},
		{
			name: "billing_period in lower case, export copied from another bucket",
			files: files{
				"x/data/billing_period=2026-10/x-00001.snappy.parquet": good,
				"x/metadata/billing_period=2026-10/x-Manifest.json":    manifestOf("s3://elsewhere/deep/prefix/x/data/billing_period=2026-10/x-00001.snappy.parquet"),
			},
			want: goodCells,
		},
		{
			name: "create new: only the newest refresh counts",
			files: files{
				"cur/x/data/BILLING_PERIOD=2026-10/20261030T000000Z-aaa/x-00001.snappy.parquet": second,
				"cur/x/data/BILLING_PERIOD=2026-10/20261031T000000Z-bbb/x-00001.snappy.parquet": good,
				"cur/x/metadata/BILLING_PERIOD=2026-10/20261030T000000Z-aaa/x-Manifest.json":    manifestOf("s3://b/cur/x/data/BILLING_PERIOD=2026-10/20261030T000000Z-aaa/x-00001.snappy.parquet"),
				"cur/x/metadata/BILLING_PERIOD=2026-10/20261031T000000Z-bbb/x-Manifest.json":    manifestOf("s3://b/cur/x/data/BILLING_PERIOD=2026-10/20261031T000000Z-bbb/x-00001.snappy.parquet"),
			},
			want: goodCells,
		},
		{
			name: "create new without manifests",
			files: files{
				"cur/x/data/BILLING_PERIOD=2026-10/20261031T000000Z-bbb/x-00001.snappy.parquet": good,
				"cur/x/data/BILLING_PERIOD=2026-10/20261030T000000Z-aaa/x-00001.snappy.parquet": second,
			},
			want: goodCells,
		},
		{
			name:  "INT64 microseconds, text amounts and INT64 decimals",
			files: files{dataKey: micros},
			want:  []want{{"111111111111", "us-west-2", "analysts", "2026-10-30", Scan, 1.234568}},
		},
		{
			name:    "INT96 times and fixed-length decimals; a negative cost is bad",
			files:   files{dataKey: int96},
			want:    []want{{"111111111111", "eu-west-1", "primary", "2026-10-30", Scan, 0.0016}},
			skipped: []string{"row 2: line_item_unblended_cost: -0.0001 is negative"},
			rows:    1,
		},
		{
			name:    "bad rows are skipped alone",
			files:   files{dataKey: parquetOf(t, negative)},
			want:    []want{{"111111111111", "us-east-1", "primary", "2026-10-30", Scan, 1}},
			skipped: []string{"row 2: line_item_unblended_cost: -2 is negative", `row 3: line_item_usage_account_id: "12345"`, `row 4: line_item_usage_account_id: "not-an-id"`},
			rows:    3,
		},
		{
			name:    "a missing column",
			files:   files{dataKey: noCost, "cur/x/data/BILLING_PERIOD=2026-10/x-00002.snappy.parquet": second},
			want:    []want{{"111111111111", "us-east-1", "primary", "2026-10-30", Scan, 10}},
			skipped: []string{"x-00001.snappy.parquet: missing column line_item_unblended_cost"},
		},
		{
			name:    "a corrupt file",
			files:   files{dataKey: good[:len(good)/2], "cur/x/data/BILLING_PERIOD=2026-10/x-00002.snappy.parquet": second},
			want:    []want{{"111111111111", "us-east-1", "primary", "2026-10-30", Scan, 10}},
			skipped: []string{"x-00001.snappy.parquet: not a readable Parquet file"},
		},
		{
			name:    "a file of garbage, footer magic and all",
			files:   files{dataKey: append(append([]byte("PAR1"), bytes.Repeat([]byte{0xff}, 64)...), []byte("\x10\x00\x00\x00PAR1")...)},
			skipped: []string{"not a readable Parquet file"},
		},
		{
			name:    "a manifest pointing at a missing file",
			files:   files{dataKey: second, metaKey: manifestOf("s3://b/"+dataKey, "s3://b/cur/x/data/BILLING_PERIOD=2026-10/x-00009.snappy.parquet")},
			want:    []want{{"111111111111", "us-east-1", "primary", "2026-10-30", Scan, 10}},
			skipped: []string{"x-00009.snappy.parquet: listed by manifest"},
		},
		{
			name:    "a manifest listing a file twice, and one of another month",
			files:   files{dataKey: second, metaKey: manifestOf("s3://b/"+dataKey, "s3://b/./"+dataKey, "s3://b/cur/x/data/BILLING_PERIOD=2026-09/x-00001.snappy.parquet"), "cur/x/data/BILLING_PERIOD=2026-09/x-00001.snappy.parquet": second},
			want:    []want{{"111111111111", "us-east-1", "primary", "2026-10-30", Scan, 10}},
			skipped: []string{"twice", "billing period \"2026-09\""},
		},
		{
			name:  "a name that is not UTF-8",
			files: files{dataKey: parquetOf(t, []line{athena("111111111111", "us-east-1", "bad\xffname", day1, 10)})},
			want:  []want{{"111111111111", "us-east-1", "bad\uFFFDname", "2026-10-30", Scan, 10}},
		},
		{
			name:    "a broken manifest falls back to the folder",
			files:   files{dataKey: second, metaKey: []byte(`{"dataFiles": [`)},
			want:    []want{{"111111111111", "us-east-1", "primary", "2026-10-30", Scan, 10}},
			skipped: []string{"x-Manifest.json: manifest unreadable"},
		},
		{
			name:  "billing periods outside the window are not read",
			files: files{dataKey: second, "cur/x/data/BILLING_PERIOD=2026-08/x-00001.snappy.parquet": []byte("not parquet")},
			want:  []want{{"111111111111", "us-east-1", "primary", "2026-10-30", Scan, 10}},
		},
		{
			name:  "two exports",
			files: files{dataKey: second, "cur/y/data/BILLING_PERIOD=2026-10/y-00001.snappy.parquet": second},
			err:   "holds several exports",
		},
		{name: "CSV", files: files{"cur/x/data/BILLING_PERIOD=2026-10/x-00001.csv.gz": csv}, err: "CSV files only"},
		{name: "nothing", files: files{"cur/readme.txt": []byte("hi")}, err: "no CUR 2.0 export"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(tt.files.write(t), filepath.FromSlash(tt.loc))
			r := &Reader{Location: Location{Dir: dir}}
			b, err := r.Read(context.Background(), day1.AddDate(0, 0, -1), day1.AddDate(0, 0, 3))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := cellsOf(b); !equalCells(got, tt.want) {
				t.Errorf("cells\n got %v\nwant %v", got, tt.want)
			}
			if len(b.Skipped) != len(tt.skipped) {
				t.Fatalf("skipped %+v, want %d", b.Skipped, len(tt.skipped))
			}
			for i, s := range tt.skipped {
				if got := b.Skipped[i].Name + ": " + b.Skipped[i].Reason; !strings.Contains(got, s) {
					t.Errorf("skipped[%d] = %q, want %q", i, got, s)
				}
			}
			if b.SkippedRows != tt.rows {
				t.Errorf("%d bad rows, want %d", b.SkippedRows, tt.rows)
			}
		})
	}
}

func equalCells(got, want []want) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i] != want[i] {
			return false
		}
	}
	return true
}

// TestReadLeavesOutWhatIsNotUsage counts what the good export holds
// beyond its cells.
func TestReadLeavesOutWhatIsNotUsage(t *testing.T) {
	t.Parallel()
	dir := files{dataKey: parquetOf(t, goodLines())}.write(t)
	b, err := (&Reader{Location: Location{Dir: dir}}).Read(context.Background(), day1, day1.AddDate(0, 0, 2))
	if err != nil {
		t.Fatal(err)
	}
	// 6 Athena usage lines; tax, credit, S3 and the late line left out.
	if b.LineItems != 6 || b.Ignored != 4 || len(b.Files) != 1 || !b.LastDay.Equal(day1.AddDate(0, 0, 1)) || b.Periods[0] != "2026-10" {
		t.Errorf("line items %d, ignored %d, files %v, last day %v, periods %v", b.LineItems, b.Ignored, b.Files, b.LastDay, b.Periods)
	}
}

func TestParseLocation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want Location
		err  bool
	}{
		{in: "dir:/tmp/cur", want: Location{Dir: "/tmp/cur"}},
		{in: "s3://org-billing/cur/athena-costs/", want: Location{Bucket: "org-billing", Prefix: "cur/athena-costs"}},
		{in: "s3://org-billing", want: Location{Bucket: "org-billing"}},
		{in: "s3:///cur", err: true},
		{in: "dir:", err: true},
		{in: "/tmp/cur", err: true},
	}
	for _, tt := range tests {
		got, err := ParseLocation(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParseLocation(%q) = %+v, %v", tt.in, got, err)
		}
	}
}

// TestReadS3 reads an export from the emulator's S3 with the AWS SDK,
// from the bucket's root and from the export's own prefix.
func TestReadS3(t *testing.T) {
	t.Parallel()
	emu := awsemu.New(awsemu.Options{})
	srv, err := emu.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	c := emu.AddUser("111111111111", "reader")
	cfg := aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, "")}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	ctx := context.Background()
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("org-billing")}); err != nil {
		t.Fatal(err)
	}
	for k, b := range (files{dataKey: parquetOf(t, goodLines()), metaKey: manifestOf("s3://org-billing/" + dataKey),
		"cur/x/data/BILLING_PERIOD=2026-10/stale.parquet": []byte("not listed by the manifest")}) {
		if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("org-billing"), Key: aws.String(k), Body: bytes.NewReader(b)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, loc := range []string{"s3://org-billing", "s3://org-billing/cur/x"} {
		l, err := ParseLocation(loc)
		if err != nil {
			t.Fatal(err)
		}
		b, err := (&Reader{Location: l, AWS: cfg}).Read(ctx, day1.AddDate(0, 0, -1), day1.AddDate(0, 0, 3))
		if err != nil {
			t.Fatalf("%s: %v", loc, err)
		}
		if got := cellsOf(b); !equalCells(got, goodCells) || len(b.Skipped) != 0 {
			t.Errorf("%s: cells %v, skipped %v", loc, got, b.Skipped)
		}
		if want := "s3://org-billing/" + dataKey; len(b.Files) != 1 || b.Files[0] != want {
			t.Errorf("%s: read %v, want %s", loc, b.Files, want)
		}
	}
	if _, err := (&Reader{Location: Location{Bucket: "no-such-bucket"}, AWS: cfg}).Read(ctx, day1, day1.AddDate(0, 0, 1)); err == nil {
		t.Error("a missing bucket read without error")
	}
}
