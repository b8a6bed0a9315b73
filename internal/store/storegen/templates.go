package storegen

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// A template is a query text with slots for literals: rendering fills each
// slot anew, so the texts of one template differ in their literals only
// and share a shape.
type template []part

type part struct {
	text string // literal text, or
	slot slot   // a slot, when text is ""
}

type slot int

const (
	slotNone     slot = iota
	slotDatabase      // the query's database
	slotDate          // a date near the query, 'YYYY-MM-DD'
	slotTime          // a timestamp near the query
	slotNumber        // an integer
	slotString        // a short quoted string
	slotInList        // a parenthesized list of 1-8 quoted strings
	slotLimit         // a LIMIT count
)

// parse turns "SELECT ... {db} ... {date}" into a template.
func parse(s string) template {
	var t template
	for s != "" {
		i := strings.IndexByte(s, '{')
		if i < 0 {
			t = append(t, part{text: s})
			break
		}
		if i > 0 {
			t = append(t, part{text: s[:i]})
		}
		j := strings.IndexByte(s[i:], '}')
		name := s[i+1 : i+j]
		s = s[i+j+1:]
		t = append(t, part{slot: map[string]slot{"db": slotDatabase, "date": slotDate, "ts": slotTime, "n": slotNumber,
			"s": slotString, "in": slotInList, "limit": slotLimit}[name]})
	}
	return t
}

var words = []string{"web", "ios", "android", "emea", "apac", "us", "gold", "silver", "trial", "paid", "churned", "new",
	"returning", "promo", "organic", "paid_search", "email", "referral", "de", "fr", "gb", "in", "jp", "br"}

func (t template) render(rng *rand.Rand, db string, at time.Time) string {
	b := make([]byte, 0, 256)
	for _, p := range t {
		if p.text != "" {
			b = append(b, p.text...)
			continue
		}
		switch p.slot {
		case slotDatabase:
			b = append(b, db...)
		case slotDate:
			b = append(b, '\'')
			b = at.AddDate(0, 0, -rng.IntN(30)).AppendFormat(b, "2006-01-02")
			b = append(b, '\'')
		case slotTime:
			b = append(b, "TIMESTAMP '"...)
			b = at.Add(-time.Duration(rng.IntN(72*3600))*time.Second).AppendFormat(b, "2006-01-02 15:04:05")
			b = append(b, '\'')
		case slotNumber:
			b = strconv.AppendInt(b, rng.Int64N(10_000_000), 10)
		case slotString:
			b = append(b, '\'')
			b = append(b, words[rng.IntN(len(words))]...)
			b = append(b, '\'')
		case slotInList:
			b = append(b, '(')
			for i := range 1 + rng.IntN(8) {
				if i > 0 {
					b = append(b, ", "...)
				}
				b = append(b, '\'')
				b = append(b, words[rng.IntN(len(words))]...)
				b = append(b, '\'')
			}
			b = append(b, ')')
		case slotLimit:
			b = strconv.AppendInt(b, int64([]int{10, 100, 500, 1000, 10000}[rng.IntN(5)]), 10)
		}
	}
	return string(b)
}

// patterns are the shapes of DML queries; %T is a table, %C and %D
// columns, %N a name.
var patterns = []string{
	"SELECT %C, %D FROM {db}.%T WHERE dt = {date} LIMIT {limit}",
	"SELECT %C, count(*) AS n FROM {db}.%T WHERE dt BETWEEN {date} AND {date} GROUP BY %C ORDER BY n DESC",
	"SELECT * FROM {db}.%T WHERE %D = {n}",
	"SELECT %C, sum(amount) AS total FROM {db}.%T WHERE country IN {in} AND dt >= {date} GROUP BY 1",
	"WITH recent AS (SELECT %C, %D FROM {db}.%T WHERE event_time > {ts}) SELECT %C, count(DISTINCT %D) FROM recent GROUP BY %C",
	"-- dashboard: %N\nSELECT date_trunc('hour', event_time) AS hour, count(*) FROM {db}.%T WHERE channel = {s} AND event_time > {ts} GROUP BY 1 ORDER BY 1",
	"INSERT INTO {db}.%T_daily SELECT %C, %D, dt FROM {db}.%T WHERE dt = {date}",
	"SELECT approx_percentile(latency_ms, 0.95) AS p95, %C FROM {db}.%T WHERE region = {s} AND dt >= {date} GROUP BY %C",
	"SELECT a.%C, b.%D FROM {db}.%T a JOIN {db}.%T_dim b ON a.%D = b.%D WHERE a.dt = {date} AND b.segment = {s} LIMIT {limit}",
	"CREATE TABLE {db}.%T_snapshot_{n} WITH (format = 'PARQUET') AS SELECT * FROM {db}.%T WHERE dt = {date}",
}

var (
	tables  = []string{"orders", "events", "sessions", "invoices", "page_views", "clicks", "shipments", "customers", "devices", "payments", "campaigns", "searches", "impressions", "tickets", "accounts", "subscriptions"}
	columns = []string{"customer_id", "country", "channel", "device", "product_id", "campaign_id", "status", "plan", "user_id", "order_id"}
	boards  = []string{"Revenue daily", "Funnel", "Ops health", "Growth weekly", "Exec summary", "Latency"}
)

// makeTemplates builds the DML templates: every pattern over many tables
// and column pairs, a few hundred shapes in all.
func makeTemplates(rng *rand.Rand) []template {
	var out []template
	for i := range 400 {
		p := patterns[i%len(patterns)]
		tbl := tables[(i/len(patterns))%len(tables)]
		c := columns[rng.IntN(len(columns))]
		d := columns[(i/(len(patterns)*len(tables))+1+rng.IntN(len(columns)-1))%len(columns)]
		if d == c {
			d = "id"
		}
		s := strings.NewReplacer("%T", tbl, "%C", c, "%D", d, "%N", boards[rng.IntN(len(boards))]).Replace(p)
		out = append(out, parse(s))
	}
	return out
}

var ddlTemplates = []template{
	parse("ALTER TABLE {db}.events ADD IF NOT EXISTS PARTITION (dt = {date})"),
	parse("MSCK REPAIR TABLE {db}.page_views"),
	parse("CREATE EXTERNAL TABLE IF NOT EXISTS {db}.import_{n} (id bigint, payload string) LOCATION 's3://landing-zone/import/'"),
	parse("DROP TABLE IF EXISTS {db}.tmp_{n}"),
}

var utilityTemplates = []template{
	parse("SHOW PARTITIONS {db}.orders"),
	parse("DESCRIBE {db}.sessions"),
	parse("SHOW TABLES IN {db}"),
	parse("EXPLAIN SELECT * FROM {db}.events WHERE dt = {date}"),
}
