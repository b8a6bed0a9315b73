package orgsim

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/parquet-go/parquet-go"

	"github.com/athenawatch/athenawatch/internal/awsemu"
	"github.com/athenawatch/athenawatch/internal/config"
)

// The organization's bill is written as an AWS Data Exports "CUR 2.0"
// export of its Athena charges, as the management account's export would
// deliver it. Columns, names and types follow the CUR 2.0 table dictionary:
//
//	https://docs.aws.amazon.com/cur/latest/userguide/table-dictionary-cur2.html
//	https://docs.aws.amazon.com/cur/latest/userguide/table-dictionary-cur2-bill.html
//	https://docs.aws.amazon.com/cur/latest/userguide/table-dictionary-cur2-line-item.html
//	https://docs.aws.amazon.com/cur/latest/userguide/table-dictionary-cur2-product.html
//
// and the layout follows "Understanding export delivery":
//
//	https://docs.aws.amazon.com/cur/latest/userguide/dataexports-export-delivery.html
//
// <prefix>/<export-name>/data/BILLING_PERIOD=YYYY-MM/<export-name>-00001.snappy.parquet
// holds the line items of a billing period, and
// <prefix>/<export-name>/metadata/BILLING_PERIOD=YYYY-MM/<export-name>-Manifest.json
// lists them; the manifest is delivered only after every data file.
//
// Athena bills one line item per usage account, region, workgroup and
// usage hour or day; this export has daily granularity.

// curLine is one line item of the export.
type curLine struct {
	BillBillType               string            `parquet:"bill_bill_type"`
	BillBillingEntity          string            `parquet:"bill_billing_entity"`
	BillBillingPeriodStartDate time.Time         `parquet:"bill_billing_period_start_date,timestamp(millisecond)"`
	BillBillingPeriodEndDate   time.Time         `parquet:"bill_billing_period_end_date,timestamp(millisecond)"`
	BillInvoicingEntity        string            `parquet:"bill_invoicing_entity"`
	BillPayerAccountID         string            `parquet:"bill_payer_account_id"`
	IdentityLineItemID         string            `parquet:"identity_line_item_id"`
	IdentityTimeInterval       string            `parquet:"identity_time_interval"`
	LineItemBlendedCost        float64           `parquet:"line_item_blended_cost"`
	LineItemBlendedRate        string            `parquet:"line_item_blended_rate"`
	LineItemCurrencyCode       string            `parquet:"line_item_currency_code"`
	LineItemDescription        string            `parquet:"line_item_line_item_description"`
	LineItemType               string            `parquet:"line_item_line_item_type"`
	LineItemNetUnblendedCost   float64           `parquet:"line_item_net_unblended_cost"`
	LineItemOperation          string            `parquet:"line_item_operation"`
	LineItemProductCode        string            `parquet:"line_item_product_code"`
	LineItemResourceID         string            `parquet:"line_item_resource_id"`
	LineItemUnblendedCost      float64           `parquet:"line_item_unblended_cost"`
	LineItemUnblendedRate      string            `parquet:"line_item_unblended_rate"`
	LineItemUsageAccountID     string            `parquet:"line_item_usage_account_id"`
	LineItemUsageAmount        float64           `parquet:"line_item_usage_amount"`
	LineItemUsageEndDate       time.Time         `parquet:"line_item_usage_end_date,timestamp(millisecond)"`
	LineItemUsageStartDate     time.Time         `parquet:"line_item_usage_start_date,timestamp(millisecond)"`
	LineItemUsageType          string            `parquet:"line_item_usage_type"`
	PricingUnit                string            `parquet:"pricing_unit"`
	ProductRegionCode          string            `parquet:"product_region_code"`
	Product                    map[string]string `parquet:"product"`
	ResourceTags               map[string]string `parquet:"resource_tags"`
}

// Line item types and product codes of the export.
const (
	LineItemUsage    = "Usage"
	LineItemTax      = "Tax"
	ProductAthena    = "AmazonAthena"
	ProductS3        = "AmazonS3"
	athenaOperation  = "RunQuery"
	athenaName       = "Amazon Athena"
	scanUnit         = "Terabytes"
	dpuUnit          = "DPU-Hour"
	curFileSuffix    = "-00001.snappy.parquet"
	curManifestName  = "-Manifest.json"
	billingPeriodKey = "BILLING_PERIOD="
)

// usageTypePrefixes are the billing region codes AWS puts before a usage
// type ("USE1-DataScannedInTB"). A region missing here is billed without
// a prefix.
var usageTypePrefixes = map[string]string{
	"us-east-1":      "USE1",
	"us-east-2":      "USE2",
	"us-west-1":      "USW1",
	"us-west-2":      "USW2",
	"ca-central-1":   "CAN1",
	"eu-west-1":      "EUW1",
	"eu-west-2":      "EUW2",
	"eu-west-3":      "EUW3",
	"eu-central-1":   "EUC1",
	"eu-north-1":     "EUN1",
	"ap-northeast-1": "APN1",
	"ap-northeast-2": "APN2",
	"ap-southeast-1": "APS1",
	"ap-southeast-2": "APS2",
	"ap-south-1":     "APS3",
	"sa-east-1":      "SAE1",
}

// UsageType is the line_item_usage_type of an Athena charge in region:
// the region's billing code, a dash and what is charged.
func UsageType(region, what string) string {
	if p, ok := usageTypePrefixes[region]; ok {
		return p + "-" + what
	}
	return what
}

// Usage types of Athena charges, after the region's code. DataScannedInTB
// is SQL queries' bytes scanned. The usage type of provisioned capacity
// is not documented publicly; DPU-Hour names what it charges.
const (
	UsageScanned = "DataScannedInTB"
	UsageDPU     = "DPU-Hour"
)

// CURExport writes the organization's bill as a CUR 2.0 export.
type CURExport struct {
	// Name is the export's name (default "athena-costs").
	Name string
	// Bucket and Prefix are where the export is delivered; the manifest
	// names its data files by s3:// URIs under them, also when the export
	// is written into a directory.
	Bucket, Prefix string
	// USDPerTiB prices the bytes scanned in a region (nil: Athena's list
	// price, config.DefaultUSDPerTiB everywhere).
	USDPerTiB func(region string) float64
	// USDPerDPUHour prices provisioned capacity (0: config.DefaultUSDPerDPUHour).
	USDPerDPUHour float64
	// ExecutionID names the refresh in the manifests (default derived
	// from the content).
	ExecutionID string
}

// DefaultExportName is CURExport.Name's default.
const DefaultExportName = "athena-costs"

// CURGroup is the ground truth of one Athena line item: what the queries
// of one account (the one they ran in), region, workgroup and UTC day of
// submission cost. Scan groups bill bytes scanned, DPU groups the
// DPU-hours of a provisioned-capacity workgroup.
type CURGroup struct {
	Account, Region, Workgroup string
	Day                        time.Time
	DPU                        bool
	// BilledBytes is the sum of Query.BilledBytes (scan groups).
	BilledBytes int64
	// DPUMillis is the sum of DPU count × engine milliseconds (DPU groups).
	DPUMillis float64
	// Queries is how many queries the group holds, billed or not.
	Queries int
}

// bytesPerTB is how the export turns billed bytes into the terabytes
// of line_item_usage_amount. Whether Athena's "TB" is 10^12 or 2^40 bytes
// is not documented; athenawatch's cost model (DESIGN.md "Cost") prices
// 2^40-byte terabytes, and so does this bill.
const bytesPerTB = 1 << 40

// CURGroups groups the queries of res as the bill charges them: each on
// the UTC day of its submission (the day athenawatch files it under).
// Queries Athena no longer knows (NoStats) ran all the same and are
// billed. A provisioned-capacity query is billed its DPU count × engine
// time once it has ended (Athena reports engine time in whole
// milliseconds); other queries their BilledBytes. Groups that bill
// nothing are left out, as AWS writes no line for no usage.
func CURGroups(res *Result) []CURGroup {
	type key struct {
		account, region, workgroup string
		day                        time.Time
		dpu                        bool
	}
	byKey := map[key]*CURGroup{}
	var keys []key
	for _, q := range res.Queries {
		k := key{q.Account, q.Region, q.Workgroup, q.Submitted.UTC().Truncate(24 * time.Hour), q.Provisioned}
		g := byKey[k]
		if g == nil {
			g = &CURGroup{Account: k.account, Region: k.region, Workgroup: k.workgroup, Day: k.day, DPU: k.dpu}
			byKey[k] = g
			keys = append(keys, k)
		}
		g.Queries++
		if q.Provisioned {
			if ended(q.State) {
				g.DPUMillis += q.DPUCount * float64(q.EngineTime.Milliseconds())
			}
			continue
		}
		g.BilledBytes += q.BilledBytes()
	}
	out := make([]CURGroup, 0, len(keys))
	for _, k := range keys {
		if g := byKey[k]; g.BilledBytes > 0 || g.DPUMillis > 0 {
			out = append(out, *g)
		}
	}
	slices.SortFunc(out, func(a, b CURGroup) int {
		if c := a.Day.Compare(b.Day); c != 0 {
			return c
		}
		for _, p := range [][2]string{{a.Account, b.Account}, {a.Region, b.Region}, {a.Workgroup, b.Workgroup}} {
			if p[0] != p[1] {
				if p[0] < p[1] {
					return -1
				}
				return 1
			}
		}
		switch {
		case a.DPU == b.DPU:
			return 0
		case b.DPU:
			return -1
		}
		return 1
	})
	return out
}

func ended(state string) bool {
	return state == awsemu.StateSucceeded || state == awsemu.StateFailed || state == awsemu.StateCancelled
}

// USD is what the group costs at the export's prices.
func (e CURExport) USD(g CURGroup) float64 {
	amount, rate := e.amountRate(g)
	return amount * rate
}

func (e CURExport) amountRate(g CURGroup) (amount, rate float64) {
	if g.DPU {
		rate = e.USDPerDPUHour
		if rate == 0 {
			rate = config.DefaultUSDPerDPUHour
		}
		return g.DPUMillis / float64(time.Hour/time.Millisecond), rate
	}
	rate = config.DefaultUSDPerTiB
	if e.USDPerTiB != nil {
		rate = e.USDPerTiB(g.Region)
	}
	return float64(g.BilledBytes) / bytesPerTB, rate
}

func (e CURExport) name() string {
	if e.Name == "" {
		return DefaultExportName
	}
	return e.Name
}

// root is the export's key prefix: <prefix>/<export-name>.
func (e CURExport) root() string {
	return path.Join(path.Clean("/" + e.Prefix)[1:], e.name())
}

// CURObjects are the objects of an export by key: the data files and the
// manifests, which must be delivered after them.
type CURObjects struct {
	Data, Manifests map[string][]byte
}

// Build writes the export of res: one Snappy-compressed Parquet file and
// one manifest per billing period (calendar month, UTC) that has Athena
// usage. Each period holds, besides the Athena usage lines, a Tax line
// per account and a line of another service (Amazon S3), which a reader
// of Athena's usage must leave out.
func (e CURExport) Build(res *Result) (CURObjects, error) {
	groups := CURGroups(res)
	periods := map[time.Time][]curLine{}
	type acctPeriod struct {
		account string
		period  time.Time
	}
	spent := map[acctPeriod]float64{}
	var order []acctPeriod
	for _, g := range groups {
		period := time.Date(g.Day.Year(), g.Day.Month(), 1, 0, 0, 0, 0, time.UTC)
		line := e.usageLine(res, g, period)
		periods[period] = append(periods[period], line)
		k := acctPeriod{g.Account, period}
		if _, ok := spent[k]; !ok {
			order = append(order, k)
		}
		spent[k] += line.LineItemUnblendedCost
	}
	for _, k := range order {
		periods[k.period] = append(periods[k.period], e.taxLine(res, k.account, k.period, spent[k]), e.otherServiceLine(res, k.account, k.period))
	}
	objs := CURObjects{Data: map[string][]byte{}, Manifests: map[string][]byte{}}
	for _, period := range slices.SortedFunc(maps.Keys(periods), time.Time.Compare) {
		part := billingPeriodKey + period.Format("2006-01")
		dataKey := path.Join(e.root(), "data", part, e.name()+curFileSuffix)
		var buf bytes.Buffer
		w := parquet.NewGenericWriter[curLine](&buf, parquet.Compression(&parquet.Snappy))
		if _, err := w.Write(periods[period]); err != nil {
			return CURObjects{}, fmt.Errorf("write bill of %s: %w", part, err)
		}
		if err := w.Close(); err != nil {
			return CURObjects{}, fmt.Errorf("write bill of %s: %w", part, err)
		}
		objs.Data[dataKey] = buf.Bytes()
		manifest, err := e.manifest(period, "s3://"+e.Bucket+"/"+dataKey, buf.Bytes())
		if err != nil {
			return CURObjects{}, err
		}
		objs.Manifests[path.Join(e.root(), "metadata", part, e.name()+curManifestName)] = manifest
	}
	return objs, nil
}

func (e CURExport) usageLine(res *Result, g CURGroup, period time.Time) curLine {
	amount, rate := e.amountRate(g)
	usageType, unit, desc := UsageType(g.Region, UsageScanned), scanUnit, "per terabyte scanned by SQL queries"
	if g.DPU {
		usageType, unit, desc = UsageType(g.Region, UsageDPU), dpuUnit, "per DPU-hour of provisioned capacity"
	}
	cost := amount * rate
	rateText := strconv.FormatFloat(rate, 'f', 10, 64)
	end := g.Day.Add(24 * time.Hour)
	return curLine{
		BillBillType: "Anniversary", BillBillingEntity: "AWS", BillInvoicingEntity: "Amazon Web Services, Inc.",
		BillBillingPeriodStartDate: period, BillBillingPeriodEndDate: period.AddDate(0, 1, 0),
		BillPayerAccountID:   res.ManagementAccount,
		IdentityLineItemID:   lineItemID(g.Account, g.Region, g.Workgroup, g.Day.Format(time.DateOnly), usageType),
		IdentityTimeInterval: interval(g.Day, end),
		LineItemBlendedCost:  cost, LineItemBlendedRate: rateText,
		LineItemCurrencyCode: "USD",
		LineItemDescription:  "USD " + strconv.FormatFloat(rate, 'f', 2, 64) + " " + desc,
		LineItemType:         LineItemUsage, LineItemNetUnblendedCost: cost,
		LineItemOperation: athenaOperation, LineItemProductCode: ProductAthena,
		LineItemResourceID:    "arn:aws:athena:" + g.Region + ":" + g.Account + ":workgroup/" + g.Workgroup,
		LineItemUnblendedCost: cost, LineItemUnblendedRate: rateText,
		LineItemUsageAccountID: g.Account, LineItemUsageAmount: amount,
		LineItemUsageStartDate: g.Day, LineItemUsageEndDate: end,
		LineItemUsageType: usageType, PricingUnit: unit, ProductRegionCode: g.Region,
		Product:      map[string]string{"product_name": athenaName, "region": g.Region, "servicecode": ProductAthena, "servicename": athenaName},
		ResourceTags: map[string]string{},
	}
}

// taxLine is an account's sales tax on its Athena usage of a period.
func (e CURExport) taxLine(res *Result, account string, period time.Time, usd float64) curLine {
	end := period.AddDate(0, 1, 0)
	tax := math.Round(usd*0.08*100) / 100
	return curLine{
		BillBillType: "Anniversary", BillBillingEntity: "AWS", BillInvoicingEntity: "Amazon Web Services, Inc.",
		BillBillingPeriodStartDate: period, BillBillingPeriodEndDate: end, BillPayerAccountID: res.ManagementAccount,
		IdentityLineItemID: lineItemID(account, "tax", period.Format("2006-01")), IdentityTimeInterval: interval(period, end),
		LineItemBlendedCost: tax, LineItemCurrencyCode: "USD", LineItemDescription: "Tax for product code AmazonAthena",
		LineItemType: LineItemTax, LineItemNetUnblendedCost: tax, LineItemProductCode: ProductAthena,
		LineItemUnblendedCost: tax, LineItemUsageAccountID: account, LineItemUsageAmount: 1,
		LineItemUsageStartDate: period, LineItemUsageEndDate: end, LineItemUsageType: "Tax",
		Product: map[string]string{"product_name": athenaName}, ResourceTags: map[string]string{},
	}
}

// otherServiceLine is an account's storage of its query results in S3.
func (e CURExport) otherServiceLine(res *Result, account string, period time.Time) curLine {
	region := DefaultRegions[0]
	return curLine{
		BillBillType: "Anniversary", BillBillingEntity: "AWS", BillInvoicingEntity: "Amazon Web Services, Inc.",
		BillBillingPeriodStartDate: period, BillBillingPeriodEndDate: period.AddDate(0, 1, 0), BillPayerAccountID: res.ManagementAccount,
		IdentityLineItemID: lineItemID(account, "s3", period.Format("2006-01")), IdentityTimeInterval: interval(period, period.Add(24*time.Hour)),
		LineItemBlendedCost: 0.23, LineItemBlendedRate: "0.0230000000", LineItemCurrencyCode: "USD",
		LineItemDescription: "USD 0.023 per GB-month of storage", LineItemType: LineItemUsage, LineItemNetUnblendedCost: 0.23,
		LineItemOperation: "StandardStorage", LineItemProductCode: ProductS3,
		LineItemResourceID:    "acme-athena-results-" + account + "-" + region,
		LineItemUnblendedCost: 0.23, LineItemUnblendedRate: "0.0230000000", LineItemUsageAccountID: account, LineItemUsageAmount: 10,
		LineItemUsageStartDate: period, LineItemUsageEndDate: period.Add(24 * time.Hour),
		LineItemUsageType: UsageType(region, "TimedStorage-ByteHrs"), PricingUnit: "GB-Mo", ProductRegionCode: region,
		Product: map[string]string{"product_name": "Amazon Simple Storage Service", "region": region}, ResourceTags: map[string]string{},
	}
}

func lineItemID(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:52]
}

func interval(from, to time.Time) string {
	return from.UTC().Format(time.RFC3339) + "/" + to.UTC().Format(time.RFC3339)
}

// curManifest is the part of an export's Manifest.json a reader needs:
// which files hold the data, for which billing period, with which columns.
type curManifest struct {
	ExportName    string            `json:"exportName"`
	ExecutionID   string            `json:"executionId"`
	BillingPeriod map[string]string `json:"billingPeriod"`
	DataFiles     []string          `json:"dataFiles"`
	Columns       []curColumn       `json:"columns"`
}

type curColumn struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

func (e CURExport) manifest(period time.Time, dataFile string, data []byte) ([]byte, error) {
	id := e.ExecutionID
	if id == "" {
		sum := sha256.Sum256(data)
		id = hex.EncodeToString(sum[:16])
	}
	m := curManifest{
		ExportName: e.name(), ExecutionID: id,
		BillingPeriod: map[string]string{"start": period.Format(time.RFC3339), "end": period.AddDate(0, 1, 0).Format(time.RFC3339)},
		DataFiles:     []string{dataFile},
	}
	for _, f := range parquet.SchemaOf(curLine{}).Fields() {
		// The line's only 64-bit integers are its timestamps.
		typ := "map<string,string>"
		if f.Leaf() {
			switch f.Type().Kind() {
			case parquet.Int64:
				typ = "timestamp"
			case parquet.Double:
				typ = "double"
			default:
				typ = "string"
			}
		}
		m.Columns = append(m.Columns, curColumn{Name: f.Name(), Type: typ})
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("write manifest: %w", err)
	}
	return b, nil
}

// WriteDir writes the export of res into dir as S3 would hold it
// (dir/<prefix>/<export-name>/...), data files first, and returns the
// export's root directory.
func (e CURExport) WriteDir(res *Result, dir string) (string, error) {
	objs, err := e.Build(res)
	if err != nil {
		return "", err
	}
	for _, set := range []map[string][]byte{objs.Data, objs.Manifests} {
		for _, k := range slices.Sorted(maps.Keys(set)) {
			p := filepath.Join(dir, filepath.FromSlash(k))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return "", fmt.Errorf("write bill export: %w", err)
			}
			if err := os.WriteFile(p, set[k], 0o644); err != nil {
				return "", fmt.Errorf("write bill export: %w", err)
			}
		}
	}
	return filepath.Join(dir, filepath.FromSlash(e.root())), nil
}

// Put delivers the export of res into its bucket with client, creating
// the bucket when it does not exist: every data file, then the manifests.
func (e CURExport) Put(ctx context.Context, client *s3.Client, res *Result) error {
	objs, err := e.Build(res)
	if err != nil {
		return err
	}
	_, err = client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(e.Bucket)})
	var ae smithy.APIError
	if err != nil && !(errors.As(err, &ae) && (ae.ErrorCode() == "BucketAlreadyOwnedByYou" || ae.ErrorCode() == "BucketAlreadyExists")) {
		return fmt.Errorf("create bucket %s: %w", e.Bucket, err)
	}
	for _, set := range []map[string][]byte{objs.Data, objs.Manifests} {
		for _, k := range slices.Sorted(maps.Keys(set)) {
			_, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(e.Bucket), Key: aws.String(k), Body: bytes.NewReader(set[k])})
			if err != nil {
				return fmt.Errorf("put s3://%s/%s: %w", e.Bucket, k, err)
			}
		}
	}
	return nil
}
