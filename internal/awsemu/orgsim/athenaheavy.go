package orgsim

import (
	"bytes"
	"math/rand/v2"
	"strconv"
	"time"
)

// athenaReadShare is the share of all records that ShapeAthenaHeavy makes
// Athena's read calls: clients poll GetQueryExecution until a query ends,
// page through GetQueryResults, list and batch-get executions, look up
// workgroups and tables, many times per query.
const athenaReadShare = 0.35

// recentQueries is how many of the last started queries read calls are
// about.
const recentQueries = 64

// polledQuery is a started query that clients poll.
type polledQuery struct {
	account, region string
	caller          *synthCaller
	id              string
	workgroup       string
	database        string
}

// poller writes the Athena read calls of ShapeAthenaHeavy. A nil poller
// writes none, so the mixed shape draws no random numbers here and stays
// byte-identical for a seed.
type poller struct {
	synth  *synth
	rng    *rand.Rand
	recent []polledQuery
	next   int
	// readP is the chance that a record slot that would hold noise holds
	// a read call instead.
	readP float64
	buf   []byte
}

// newPoller returns the poller of shape, nil when the shape has no read
// calls of its own. athenaFraction is GenerateOptions.AthenaFraction.
func newPoller(shape Shape, s *synth, seed uint64, athenaFraction float64) *poller {
	if shape != ShapeAthenaHeavy {
		return nil
	}
	// Per Athena record the generator writes (1-f)/f noise slots. Of
	// the Athena records themselves about a quarter are read calls
	// already (synth.appendAthena); the slots make up the rest.
	noisePer := (1 - athenaFraction) / athenaFraction
	const ownReads = 0.23
	readP := (athenaReadShare*(1+noisePer) - ownReads) / noisePer
	readP = min(max(readP, 0), 1)
	return &poller{synth: s, rng: rand.New(rand.NewPCG(seed, 0x706f6c6c)), readP: readP}
}

// poll notes the Athena record rec just added (a started query is polled
// from now on) and turns some of the n noise slots that follow it into
// read calls written to w at t. It returns how many slots are left for
// noise.
func (p *poller) poll(w *TrailWriter, rec []byte, kind synthKind, account, region string, n int, t time.Time) int {
	if p == nil {
		return n
	}
	if kind == synthStarted {
		p.observe(rec, account, region)
	}
	if len(p.recent) == 0 {
		return n
	}
	left := 0
	for range n {
		if p.rng.Float64() >= p.readP {
			left++
			continue
		}
		q := &p.recent[p.rng.IntN(len(p.recent))]
		p.buf = p.appendRead(p.buf[:0], q, t)
		w.AddRecord(q.account, q.region, t, p.buf)
	}
	return left
}

// observe remembers the query that rec started, with its caller.
func (p *poller) observe(rec []byte, account, region string) {
	q := polledQuery{
		account:   account,
		region:    region,
		id:        stringAfter(rec, `"queryExecutionId":"`),
		workgroup: stringAfter(rec, `"workGroup":"`),
		database:  stringAfter(rec, `"database":"`),
	}
	// synth.appendAthena writes the caller's userIdentity right after
	// this prefix.
	ident := bytes.TrimPrefix(rec, []byte(`{"eventVersion":"1.09","userIdentity":`))
	callers := p.synth.callers[account]
	for i := range callers {
		if bytes.HasPrefix(ident, callers[i].userIdentity) {
			q.caller = &callers[i]
			break
		}
	}
	if q.id == "" || q.caller == nil {
		return
	}
	if len(p.recent) < recentQueries {
		p.recent = append(p.recent, q)
		return
	}
	p.recent[p.next] = q
	p.next = (p.next + 1) % recentQueries
}

// stringAfter returns the JSON string value that follows prefix in b, or ""
// (the generator's values hold no escapes).
func stringAfter(b []byte, prefix string) string {
	i := bytes.Index(b, []byte(prefix))
	if i < 0 {
		return ""
	}
	v := b[i+len(prefix):]
	j := bytes.IndexByte(v, '"')
	if j < 0 {
		return ""
	}
	return string(v[:j])
}

// athenaReads are the read calls with their weights (out of 100).
var athenaReads = []struct {
	weight int
	name   string
}{
	{46, "GetQueryExecution"},
	{18, "GetQueryResults"},
	{6, "GetQueryRuntimeStatistics"},
	{8, "BatchGetQueryExecution"},
	{8, "ListQueryExecutions"},
	{6, "GetWorkGroup"},
	{4, "GetTableMetadata"},
	{4, "ListDatabases"},
}

// appendRead appends one read call about q, made by the caller that
// started it, as CloudTrail records Athena's read-only calls: the request
// parameters in lower camel case, responseElements null.
func (p *poller) appendRead(b []byte, q *polledQuery, t time.Time) []byte {
	pick := p.rng.IntN(100)
	name := athenaReads[0].name
	for _, r := range athenaReads {
		if pick < r.weight {
			name = r.name
			break
		}
		pick -= r.weight
	}
	c := q.caller
	b = appendAthenaHead(b, c, t, name, q.region)
	b = append(b, `","requestParameters":{`...)
	switch name {
	case "GetQueryExecution", "GetQueryRuntimeStatistics":
		b = append(b, `"queryExecutionId":"`...)
		b = append(b, q.id...)
		b = append(b, '"')
	case "GetQueryResults":
		b = append(b, `"queryExecutionId":"`...)
		b = append(b, q.id...)
		b = append(b, `","maxResults":1000`...)
		if p.rng.IntN(3) == 0 {
			b = p.appendNextToken(b)
		}
	case "BatchGetQueryExecution":
		b = append(b, `"queryExecutionIds":["`...)
		b = append(b, q.id...)
		b = append(b, '"')
		for _, o := range p.recent {
			if o.id != q.id && o.caller == q.caller && o.region == q.region && p.rng.IntN(2) == 0 {
				b = append(b, `,"`...)
				b = append(b, o.id...)
				b = append(b, '"')
			}
		}
		b = append(b, ']')
	case "ListQueryExecutions":
		b = append(b, `"workGroup":"`...)
		b = append(b, q.workgroup...)
		b = append(b, `","maxResults":50`...)
		if p.rng.IntN(4) == 0 {
			b = p.appendNextToken(b)
		}
	case "GetWorkGroup":
		b = append(b, `"workGroup":"`...)
		b = append(b, q.workgroup...)
		b = append(b, '"')
	case "GetTableMetadata":
		b = append(b, `"catalogName":"AwsDataCatalog","databaseName":"`...)
		b = append(b, q.database...)
		b = append(b, `","tableName":"`...)
		b = append(b, noiseWords[p.rng.IntN(len(noiseWords))]...)
		b = append(b, '"')
	case "ListDatabases":
		b = append(b, `"catalogName":"AwsDataCatalog","maxResults":`...)
		b = strconv.AppendInt(b, int64(10*(1+p.rng.IntN(5))), 10)
	}
	b = append(b, `},"responseElements":null,"requestID":"`...)
	b = appendUUID(b, p.rng)
	b = append(b, `","eventID":"`...)
	b = appendUUID(b, p.rng)
	b = append(b, `","readOnly":true,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"`...)
	b = append(b, q.account...)
	b = append(b, `","eventCategory":"Management","tlsDetails":{"tlsVersion":"TLSv1.3","cipherSuite":"TLS_AES_128_GCM_SHA256","clientProvidedHostHeader":"athena.`...)
	b = append(b, q.region...)
	b = append(b, `.amazonaws.com"}}`...)
	return b
}

// appendNextToken appends a pagination token member: an opaque base64
// string, as Athena hands out.
func (p *poller) appendNextToken(b []byte) []byte {
	const base64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	b = append(b, `,"nextToken":"AYADe`...)
	b = appendRandomChars(b, p.rng, 120+p.rng.IntN(80), base64, 6)
	return append(b, `=="`...)
}
