package awsemu

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Unknown query execution ids.
//
// Athena forgets query executions 45 days after submission
// (https://docs.aws.amazon.com/athena/latest/ug/querying.html#queries-viewing-history;
// https://github.com/boto/boto3/issues/3847). What the API then answers is not
// documented, and no wire capture was found in the issues, docs or code
// corpora. The API model (botocore athena.service-2.json) gives
// BatchGetQueryExecution an UnprocessedQueryExecutionIds list of
// {QueryExecutionId, ErrorCode, ErrorMessage} "that failed to process" and
// lists only InternalServerException and InvalidRequestException as errors of
// GetQueryExecution and BatchGetQueryExecution. Following the model:
//   - BatchGetQueryExecution does not fail for ids it does not know (expired
//     or never existed, or started in another account or region); each comes
//     back in UnprocessedQueryExecutionIds with ErrorCode INVALID_INPUT and
//     ErrorMessage "QueryExecution <id> was not found".
//   - GetQueryExecution, StopQueryExecution and GetQueryResults fail with
//     InvalidRequestException (HTTP 400, AthenaErrorCode INVALID_INPUT),
//     message "QueryExecution <id> was not found" — the wording users quote
//     from real Athena.
//
// Clients must treat both as "Athena no longer knows this id".
const unknownQueryErrorCode = "INVALID_INPUT"

func queryNotFound(id string) string { return fmt.Sprintf("QueryExecution %s was not found", id) }

// Limits from the Athena API model.
const (
	maxQueryStringBytes = 262144
	maxBatchIDs         = 50
	maxListResults      = 50
	maxResultRows       = 1000
	maxIDLength         = 128
)

var (
	workGroupPattern = regexp.MustCompile(`^[a-zA-Z0-9._-]{1,128}$`)
	idPattern        = regexp.MustCompile(`^\S+$`)
)

func athenaService() *service {
	ops := map[string]operation{
		"StartQueryExecution":    {readOnly: false, handle: athenaStart},
		"GetQueryExecution":      {readOnly: true, handle: athenaGet},
		"BatchGetQueryExecution": {readOnly: true, handle: athenaBatchGet},
		"ListQueryExecutions":    {readOnly: true, handle: athenaList},
		"StopQueryExecution":     {readOnly: false, handle: athenaStop},
		"GetQueryResults":        {readOnly: true, handle: athenaResults},
		"ListWorkGroups":         {readOnly: true, handle: athenaListWorkGroups},
		"GetWorkGroup":           {readOnly: true, handle: athenaGetWorkGroup},
		"CreateWorkGroup":        {readOnly: false, handle: athenaCreateWorkGroup},
		"UpdateWorkGroup":        {readOnly: false, handle: athenaUpdateWorkGroup},
	}
	for name, op := range ops {
		handle := op.handle
		op.handle = func(c *call) (any, error) {
			c.requestParameters = athenaTrailParameters(c.op, c.body)
			return handle(c)
		}
		ops[name] = op
	}
	return &service{
		eventSource: "athena.amazonaws.com",
		protocol:    jsonProtocol{targetPrefix: "AmazonAthena", ops: ops},
		ops:         ops,
	}
}

// athenaTrailParameters is requestParameters as CloudTrail writes them for
// Athena: the request with lower-camel member names, and since 2023 the query
// string replaced by ***OMITTED***.
func athenaTrailParameters(op string, body []byte) any {
	var req map[string]any
	if len(bytes.TrimSpace(body)) == 0 || json.Unmarshal(body, &req) != nil || len(req) == 0 {
		return nil
	}
	params := lowerCamelJSON(req).(map[string]any)
	if _, ok := params["queryString"]; ok && op == "StartQueryExecution" {
		params["queryString"] = "***OMITTED***"
	}
	return params
}

func decodeInput(c *call, v any) error {
	if len(bytes.TrimSpace(c.body)) == 0 {
		return nil
	}
	if err := json.Unmarshal(c.body, v); err != nil {
		return &apiError{Code: "SerializationException", Message: err.Error(), Status: http.StatusBadRequest}
	}
	return nil
}

// validationError words a constraint violation as Athena's front end does.
func validationError(value, member, constraint string) *apiError {
	return invalidRequest("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: %s", value, member, constraint)
}

func checkID(id *string, member string) (string, error) {
	if id == nil {
		return "", validationError("null", member, "Member must not be null")
	}
	if len(*id) < 1 || len(*id) > maxIDLength {
		return "", validationError(*id, member, "Member must have length between 1 and 128")
	}
	if !idPattern.MatchString(*id) {
		return "", validationError(*id, member, `Member must satisfy regular expression pattern: \S+`)
	}
	return *id, nil
}

type startInput struct {
	QueryString              *string
	ClientRequestToken       *string
	QueryExecutionContext    *struct{ Database, Catalog *string }
	ResultConfiguration      *struct{ OutputLocation *string }
	WorkGroup                *string
	ResultReuseConfiguration *struct {
		ResultReuseByAgeConfiguration *struct {
			Enabled         *bool
			MaxAgeInMinutes *int32
		}
	}
}

func athenaStart(c *call) (any, error) {
	var in startInput
	if err := decodeInput(c, &in); err != nil {
		return nil, err
	}
	if in.QueryString == nil {
		return nil, validationError("null", "queryString", "Member must not be null")
	}
	if len(*in.QueryString) < 1 || len(*in.QueryString) > maxQueryStringBytes {
		return nil, validationError("***", "queryString", "Member must have length between 1 and 262144")
	}
	token := deref(in.ClientRequestToken)
	if in.ClientRequestToken != nil && (len(token) < 32 || len(token) > 128) {
		return nil, validationError(token, "clientRequestToken", "Member must have length between 32 and 128")
	}
	wg := "primary"
	if in.WorkGroup != nil {
		if !workGroupPattern.MatchString(*in.WorkGroup) {
			return nil, validationError(*in.WorkGroup, "workGroup", "Member must satisfy regular expression pattern: [a-zA-Z0-9._-]{1,128}")
		}
		wg = *in.WorkGroup
	}
	req := QueryRequest{
		Account: c.account, Region: c.region, Identity: c.p.id,
		QueryString: *in.QueryString, Catalog: "awsdatacatalog", WorkGroup: wg,
		ClientRequestToken: token, Time: c.now,
	}
	if ctx := in.QueryExecutionContext; ctx != nil {
		req.Database = deref(ctx.Database)
		if len(req.Database) > 255 {
			return nil, validationError(req.Database, "queryExecutionContext.database", "Member must have length less than or equal to 255")
		}
		if ctx.Catalog != nil && *ctx.Catalog != "" {
			req.Catalog = *ctx.Catalog
		}
	}
	var reuseMaxAge int32
	if rr := in.ResultReuseConfiguration; rr != nil && rr.ResultReuseByAgeConfiguration != nil {
		req.ResultReuse = deref(rr.ResultReuseByAgeConfiguration.Enabled)
		reuseMaxAge = deref(rr.ResultReuseByAgeConfiguration.MaxAgeInMinutes)
		if req.ResultReuse && reuseMaxAge == 0 {
			reuseMaxAge = 60 // Athena's default maximum age
		}
	}
	var outputLoc string
	if rc := in.ResultConfiguration; rc != nil && deref(rc.OutputLocation) != "" {
		outputLoc = *rc.OutputLocation
		if !strings.HasSuffix(outputLoc, "/") {
			outputLoc += "/"
		}
	}

	e := c.e
	scope := scopeKey{c.account, c.region}
	e.mu.Lock()
	wgDef, ok := e.workgroupsLocked(c.account, c.region)[wg]
	if !ok {
		e.mu.Unlock()
		return nil, invalidRequest("%s", workGroupNotFound)
	}
	if wgDef.Disabled {
		e.mu.Unlock()
		return nil, invalidRequest("WorkGroup %s is disabled.", wg)
	}
	if c.deniedLocked("athena:StartQueryExecution") {
		e.mu.Unlock()
		return nil, &apiError{Code: "AccessDeniedException", Status: http.StatusBadRequest,
			Message: "User: " + c.p.id.ARN + " is not authorized to perform: athena:StartQueryExecution on resource: arn:aws:athena:" + c.region + ":" + c.account + ":workgroup/" + wg + " with an explicit deny in an identity-based policy"}
	}
	cutoff := wgDef.config.BytesScannedCutoffPerQuery
	// The workgroup's location applies when the query names none, and
	// always when the workgroup enforces its settings.
	if wgDef.OutputLocation != "" && (outputLoc == "" || wgDef.config.EnforceWorkGroupConfiguration) {
		outputLoc = wgDef.OutputLocation
	}
	if outputLoc == "" {
		outputLoc = defaultOutputLocation(c.account, c.region)
	}
	if prev, err := e.idempotentLocked(scope, req, c.now); prev != nil || err != nil {
		e.mu.Unlock()
		if err != nil {
			return nil, err
		}
		c.responseElements = map[string]string{"queryExecutionId": prev.id}
		return map[string]string{"QueryExecutionId": prev.id}, nil
	}
	e.mu.Unlock()

	// The engine runs outside the lock: it is caller code and may call back.
	out := e.engine.Run(req)
	if out.RejectCode != "" {
		return nil, rejection(out)
	}
	normalizeOutcome(&out, req.QueryString)
	if cutoff > 0 && out.DataScannedBytes > cutoff && out.State == StateSucceeded {
		// The workgroup's data usage control: Athena cancels a query when
		// it has scanned the cutoff, and bills what it scanned.
		frac := float64(cutoff) / float64(out.DataScannedBytes)
		out.State, out.DataScannedBytes = StateCancelled, cutoff
		out.EngineTime = time.Duration(float64(out.EngineTime) * frac)
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	if prev, err := e.idempotentLocked(scope, req, c.now); prev != nil || err != nil {
		if err != nil {
			return nil, err
		}
		c.responseElements = map[string]string{"queryExecutionId": prev.id}
		return map[string]string{"QueryExecutionId": prev.id}, nil
	}
	if wgDef.Provisioned {
		out.DPUCount = ProvisionedDPUs(out)
	} else {
		out.DPUCount = 0
	}
	x := &execution{
		id: e.newID(), account: c.account, region: c.region, req: req, out: out,
		submitted: c.now, reuseMaxAge: reuseMaxAge,
	}
	x.completed = x.submitted.Add(out.QueueTime + out.PreProcessingTime + out.EngineTime + out.ServiceProcessingTime)
	ext := ".csv"
	if out.StatementType != "DML" {
		ext = ".txt"
	}
	x.outputLoc = outputLoc + x.id + ext
	if e.execs[scope] == nil {
		e.execs[scope] = make(map[string]*execution)
		e.tokens[scope] = make(map[string]*execution)
	}
	e.execs[scope][x.id] = x
	if token != "" {
		e.tokens[scope][token] = x
	}
	e.order = append(e.order, x)
	c.responseElements = map[string]string{"queryExecutionId": x.id}
	return map[string]string{"QueryExecutionId": x.id}, nil
}

// idempotentLocked applies ClientRequestToken semantics: the same token with
// the same parameters returns the earlier query; with other parameters it is
// an error.
func (e *Emulator) idempotentLocked(scope scopeKey, req QueryRequest, now time.Time) (*execution, error) {
	if req.ClientRequestToken == "" {
		return nil, nil
	}
	prev := e.tokens[scope][req.ClientRequestToken]
	if prev == nil || prev.forgotten(now) {
		return nil, nil
	}
	p := prev.req
	if p.QueryString != req.QueryString || p.Database != req.Database || p.Catalog != req.Catalog || p.WorkGroup != req.WorkGroup {
		return nil, invalidRequest("Idempotent parameters do not match")
	}
	return prev, nil
}

func rejection(out Outcome) *apiError {
	e := &apiError{Code: out.RejectCode, Message: out.RejectMessage, Status: http.StatusBadRequest}
	switch out.RejectCode {
	case "InternalServerException":
		e.Status = http.StatusInternalServerError
	case "InvalidRequestException":
		e.AthenaErrorCode = "INVALID_INPUT"
	case "TooManyRequestsException":
		e.Reason = "CONCURRENT_QUERY_LIMIT_EXCEEDED"
	}
	return e
}

func normalizeOutcome(out *Outcome, query string) {
	st, sub := classifyStatement(query)
	if out.StatementType == "" {
		out.StatementType = st
	}
	if out.SubstatementType == "" {
		out.SubstatementType = sub
	}
	switch out.State {
	case StateSucceeded, StateFailed, StateCancelled:
	default:
		out.State = StateSucceeded
	}
	if out.EngineTime < out.PlanningTime {
		out.EngineTime = out.PlanningTime
	}
}

// lookup finds a query Athena still knows in the caller's account and region.
func (c *call) lookup(id string) *execution {
	x := c.e.execs[scopeKey{c.account, c.region}][id]
	if x == nil || x.forgotten(c.now) {
		return nil
	}
	return x
}

// decodeQueryID decodes a request whose one member is QueryExecutionId.
func decodeQueryID(c *call) (string, error) {
	var in struct{ QueryExecutionId *string }
	if err := decodeInput(c, &in); err != nil {
		return "", err
	}
	return checkID(in.QueryExecutionId, "queryExecutionId")
}

// known finds the execution id names, or answers as Athena does for an id it
// does not know. The caller holds c.e.mu.
func (c *call) known(id string) (*execution, error) {
	x := c.lookup(id)
	if x == nil {
		return nil, invalidRequest("%s", queryNotFound(id))
	}
	return x, nil
}

func athenaGet(c *call) (any, error) {
	id, err := decodeQueryID(c)
	if err != nil {
		return nil, err
	}
	c.e.mu.Lock()
	defer c.e.mu.Unlock()
	x, err := c.known(id)
	if err != nil {
		return nil, err
	}
	return map[string]any{"QueryExecution": x.render(c.now)}, nil
}

type unprocessedID struct {
	QueryExecutionId string
	ErrorCode        string
	ErrorMessage     string
}

func athenaBatchGet(c *call) (any, error) {
	var in struct{ QueryExecutionIds []string }
	if err := decodeInput(c, &in); err != nil {
		return nil, err
	}
	if len(in.QueryExecutionIds) < 1 || len(in.QueryExecutionIds) > maxBatchIDs {
		return nil, validationError(strconv.Itoa(len(in.QueryExecutionIds))+" ids", "queryExecutionIds",
			"Member must have length less than or equal to 50 and greater than or equal to 1")
	}
	for i := range in.QueryExecutionIds {
		if _, err := checkID(&in.QueryExecutionIds[i], "queryExecutionIds."+strconv.Itoa(i+1)+".member"); err != nil {
			return nil, err
		}
	}
	c.e.mu.Lock()
	defer c.e.mu.Unlock()
	found := []queryExecutionJSON{}
	unprocessed := []unprocessedID{}
	seen := make(map[string]bool, len(in.QueryExecutionIds))
	for _, id := range in.QueryExecutionIds {
		if seen[id] {
			continue
		}
		seen[id] = true
		if x := c.lookup(id); x != nil {
			found = append(found, x.render(c.now))
		} else {
			unprocessed = append(unprocessed, unprocessedID{id, unknownQueryErrorCode, queryNotFound(id)})
		}
	}
	return map[string]any{"QueryExecutions": found, "UnprocessedQueryExecutionIds": unprocessed}, nil
}

// listToken is the opaque NextToken of ListQueryExecutions: the position
// after the last id returned.
type listToken struct {
	Submitted int64  `json:"s"`
	ID        string `json:"i"`
}

func athenaList(c *call) (any, error) {
	var in struct {
		NextToken  *string
		MaxResults *int32
		WorkGroup  *string
	}
	if err := decodeInput(c, &in); err != nil {
		return nil, err
	}
	limit := int32(maxListResults)
	if in.MaxResults != nil {
		if *in.MaxResults < 0 || *in.MaxResults > maxListResults {
			return nil, validationError(strconv.Itoa(int(*in.MaxResults)), "maxResults", "Member must have value less than or equal to 50")
		}
		if *in.MaxResults > 0 {
			limit = *in.MaxResults
		}
	}
	wg := "primary"
	if in.WorkGroup != nil {
		if !workGroupPattern.MatchString(*in.WorkGroup) {
			return nil, validationError(*in.WorkGroup, "workGroup", "Member must satisfy regular expression pattern: [a-zA-Z0-9._-]{1,128}")
		}
		wg = *in.WorkGroup
	}
	var after *listToken
	if in.NextToken != nil {
		var t listToken
		raw, err := base64.RawURLEncoding.DecodeString(*in.NextToken)
		if err != nil || json.Unmarshal(raw, &t) != nil || t.ID == "" {
			return nil, invalidRequest("Invalid NextToken")
		}
		after = &t
	}
	c.e.mu.Lock()
	defer c.e.mu.Unlock()
	if _, ok := c.e.workgroupsLocked(c.account, c.region)[wg]; !ok {
		return nil, invalidRequest("%s", workGroupNotFound)
	}
	var all []*execution
	for _, x := range c.e.execs[scopeKey{c.account, c.region}] {
		if x.req.WorkGroup == wg && !x.forgotten(c.now) && !x.submitted.After(c.now) {
			all = append(all, x)
		}
	}
	// Newest first; the id breaks ties so pages never overlap.
	newer := func(a *execution, s int64, id string) bool {
		as := a.submitted.UnixNano()
		return as > s || as == s && a.id > id
	}
	slices.SortFunc(all, func(a, b *execution) int {
		if newer(a, b.submitted.UnixNano(), b.id) {
			return -1
		}
		if a == b {
			return 0
		}
		return 1
	})
	ids := []string{}
	var last *execution
	for _, x := range all {
		if after != nil && newer(x, after.Submitted, after.ID) || after != nil && x.submitted.UnixNano() == after.Submitted && x.id == after.ID {
			continue
		}
		if int32(len(ids)) == limit {
			break
		}
		ids = append(ids, x.id)
		last = x
	}
	resp := map[string]any{"QueryExecutionIds": ids}
	if last != nil && last != all[len(all)-1] {
		b, _ := json.Marshal(listToken{Submitted: last.submitted.UnixNano(), ID: last.id})
		resp["NextToken"] = base64.RawURLEncoding.EncodeToString(b)
	}
	return resp, nil
}

func athenaStop(c *call) (any, error) {
	id, err := decodeQueryID(c)
	if err != nil {
		return nil, err
	}
	c.e.mu.Lock()
	defer c.e.mu.Unlock()
	x, err := c.known(id)
	if err != nil {
		return nil, err
	}
	x.stop(c.now)
	return struct{}{}, nil
}

// resultToken is the opaque NextToken of GetQueryResults.
type resultToken struct {
	ID     string `json:"i"`
	Offset int    `json:"o"`
}

func athenaResults(c *call) (any, error) {
	var in struct {
		QueryExecutionId *string
		NextToken        *string
		MaxResults       *int32
	}
	if err := decodeInput(c, &in); err != nil {
		return nil, err
	}
	id, err := checkID(in.QueryExecutionId, "queryExecutionId")
	if err != nil {
		return nil, err
	}
	limit := maxResultRows
	if in.MaxResults != nil {
		if *in.MaxResults < 1 || *in.MaxResults > maxResultRows {
			return nil, validationError(strconv.Itoa(int(*in.MaxResults)), "maxResults", "Member must have value less than or equal to 1000 and greater than or equal to 1")
		}
		limit = int(*in.MaxResults)
	}
	offset := 0
	if in.NextToken != nil {
		var t resultToken
		raw, err := base64.RawURLEncoding.DecodeString(*in.NextToken)
		if err != nil || json.Unmarshal(raw, &t) != nil || t.ID != id || t.Offset < 0 {
			return nil, invalidRequest("Invalid NextToken")
		}
		offset = t.Offset
	}
	c.e.mu.Lock()
	defer c.e.mu.Unlock()
	x, err := c.known(id)
	if err != nil {
		return nil, err
	}
	switch st := x.state(c.now); st {
	case StateSucceeded:
	case StateQueued, StateRunning:
		return nil, invalidRequest("Query has not yet finished. Current state: %s", st)
	case StateFailed:
		return nil, invalidRequest("%s", x.out.ErrorMessage)
	default:
		return nil, invalidRequest("Query did not finish successfully. Final query state: %s", st)
	}
	cols, rows := syntheticResult(x)
	end := min(offset+limit, len(rows))
	page := rows[min(offset, len(rows)):end]
	resp := map[string]any{
		"UpdateCount": 0,
		"ResultSet": map[string]any{
			"Rows":              page,
			"ResultSetMetadata": map[string]any{"ColumnInfo": cols},
		},
	}
	if end < len(rows) {
		b, _ := json.Marshal(resultToken{ID: id, Offset: end})
		resp["NextToken"] = base64.RawURLEncoding.EncodeToString(b)
	}
	return resp, nil
}

type resultRow struct {
	Data []map[string]string
}

// syntheticResult makes a few deterministic rows for a succeeded query: a
// header row then data rows for SELECTs, one column of text otherwise.
func syntheticResult(x *execution) (cols []map[string]any, rows []resultRow) {
	h := fnv.New32a()
	h.Write([]byte(x.req.QueryString))
	n := 3 + int(h.Sum32()%5)
	col := func(name, typ string, precision int) map[string]any {
		return map[string]any{
			"CatalogName": "hive", "SchemaName": "", "TableName": "", "Name": name, "Label": name,
			"Type": typ, "Precision": precision, "Scale": 0, "Nullable": "UNKNOWN", "CaseSensitive": typ == "varchar",
		}
	}
	cell := func(vs ...string) resultRow {
		r := resultRow{}
		for _, v := range vs {
			r.Data = append(r.Data, map[string]string{"VarCharValue": v})
		}
		return r
	}
	if x.out.SubstatementType == "SELECT" {
		cols = []map[string]any{col("n", "integer", 10), col("label", "varchar", 2147483647)}
		rows = append(rows, cell("n", "label"))
		for i := 1; i <= n; i++ {
			rows = append(rows, cell(strconv.Itoa(i), fmt.Sprintf("row-%d-%08x", i, h.Sum32())))
		}
		return cols, rows
	}
	cols = []map[string]any{col("result", "string", 0)}
	for i := 1; i <= n; i++ {
		rows = append(rows, cell(fmt.Sprintf("line %d", i)))
	}
	return cols, rows
}

func athenaListWorkGroups(c *call) (any, error) {
	var in struct {
		NextToken  *string
		MaxResults *int32
	}
	if err := decodeInput(c, &in); err != nil {
		return nil, err
	}
	limit := maxListResults
	if in.MaxResults != nil {
		if *in.MaxResults < 1 || *in.MaxResults > maxListResults {
			return nil, validationError(strconv.Itoa(int(*in.MaxResults)), "maxResults", "Member must have value less than or equal to 50 and greater than or equal to 1")
		}
		limit = int(*in.MaxResults)
	}
	after := ""
	if in.NextToken != nil {
		raw, err := base64.RawURLEncoding.DecodeString(*in.NextToken)
		if err != nil || len(raw) == 0 {
			return nil, invalidRequest("Invalid NextToken")
		}
		after = string(raw)
	}
	c.e.mu.Lock()
	defer c.e.mu.Unlock()
	var names []string
	wgs := c.e.workgroupsLocked(c.account, c.region)
	for name := range wgs {
		if name > after {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	resp := map[string]any{}
	if len(names) > limit {
		names = names[:limit]
		resp["NextToken"] = base64.RawURLEncoding.EncodeToString([]byte(names[limit-1]))
	}
	list := []map[string]any{}
	for _, name := range names {
		list = append(list, map[string]any{
			"Name": name, "State": "ENABLED", "Description": wgs[name].Description,
			"CreationTime":  epochSeconds(wgs[name].Created),
			"EngineVersion": engineVersion(),
		})
	}
	resp["WorkGroups"] = list
	return resp, nil
}

// epochSeconds is a timestamp as awsJson1.1 writes it: seconds since the
// epoch with a millisecond fraction.
type epochSeconds time.Time

func (t epochSeconds) MarshalJSON() ([]byte, error) {
	ms := time.Time(t).UnixMilli()
	return []byte(strconv.FormatFloat(float64(ms)/1000, 'f', 3, 64)), nil
}

type engineVersionJSON struct {
	SelectedEngineVersion  string
	EffectiveEngineVersion string
}

func engineVersion() engineVersionJSON {
	return engineVersionJSON{SelectedEngineVersion: "AUTO", EffectiveEngineVersion: "Athena engine version 3"}
}

type queryExecutionJSON struct {
	QueryExecutionId         string
	Query                    string
	StatementType            string
	ResultConfiguration      struct{ OutputLocation string }
	ResultReuseConfiguration *struct {
		ResultReuseByAgeConfiguration struct {
			Enabled         bool
			MaxAgeInMinutes int32 `json:",omitempty"`
		}
	} `json:",omitempty"`
	QueryExecutionContext struct {
		Database string `json:",omitempty"`
		Catalog  string `json:",omitempty"`
	}
	Status           statusJSON
	Statistics       statisticsJSON
	WorkGroup        string
	EngineVersion    engineVersionJSON
	SubstatementType string `json:",omitempty"`
}

type statusJSON struct {
	State              string
	StateChangeReason  string        `json:",omitempty"`
	SubmissionDateTime epochSeconds  `json:",omitzero"`
	CompletionDateTime *epochSeconds `json:",omitempty"`
	AthenaError        *struct {
		ErrorCategory int32
		ErrorType     int32
		Retryable     bool
		ErrorMessage  string
	} `json:",omitempty"`
}

type statisticsJSON struct {
	EngineExecutionTimeInMillis      int64
	DataScannedInBytes               int64
	TotalExecutionTimeInMillis       int64
	QueryQueueTimeInMillis           int64
	ServicePreProcessingTimeInMillis *int64                               `json:",omitempty"`
	QueryPlanningTimeInMillis        *int64                               `json:",omitempty"`
	ServiceProcessingTimeInMillis    *int64                               `json:",omitempty"`
	ResultReuseInformation           *struct{ ReusedPreviousResult bool } `json:",omitempty"`
	DpuCount                         *float64                             `json:",omitempty"`
}

// render is the QueryExecution the API returns at now.
func (x *execution) render(now time.Time) queryExecutionJSON {
	st := x.state(now)
	var q queryExecutionJSON
	q.QueryExecutionId = x.id
	q.Query = x.req.QueryString
	q.StatementType = x.out.StatementType
	q.SubstatementType = x.out.SubstatementType
	q.ResultConfiguration.OutputLocation = x.outputLoc
	q.QueryExecutionContext.Database = x.req.Database
	q.QueryExecutionContext.Catalog = x.req.Catalog
	q.WorkGroup = x.req.WorkGroup
	q.EngineVersion = engineVersion()
	if x.reuseMaxAge > 0 || x.req.ResultReuse {
		q.ResultReuseConfiguration = &struct {
			ResultReuseByAgeConfiguration struct {
				Enabled         bool
				MaxAgeInMinutes int32 `json:",omitempty"`
			}
		}{}
		q.ResultReuseConfiguration.ResultReuseByAgeConfiguration.Enabled = x.req.ResultReuse
		q.ResultReuseConfiguration.ResultReuseByAgeConfiguration.MaxAgeInMinutes = x.reuseMaxAge
	}

	q.Status.State = st
	q.Status.SubmissionDateTime = epochSeconds(x.submitted)
	final := st != StateQueued && st != StateRunning
	if final {
		done := epochSeconds(x.completed)
		q.Status.CompletionDateTime = &done
	}
	if st == StateFailed {
		q.Status.StateChangeReason = x.out.ErrorMessage
		q.Status.AthenaError = &struct {
			ErrorCategory int32
			ErrorType     int32
			Retryable     bool
			ErrorMessage  string
		}{x.out.ErrorCategory, x.out.ErrorType, false, x.out.ErrorMessage}
	}

	s := x.statsAt(now)
	ms := func(d time.Duration) int64 { return d.Milliseconds() }
	ptr := func(v int64) *int64 { return &v }
	q.Statistics = statisticsJSON{
		EngineExecutionTimeInMillis: ms(s.engine),
		DataScannedInBytes:          s.scanned,
		TotalExecutionTimeInMillis:  ms(s.total),
		QueryQueueTimeInMillis:      ms(s.queue),
	}
	if st != StateQueued {
		q.Statistics.ServicePreProcessingTimeInMillis = ptr(ms(s.preProcessing))
		q.Statistics.QueryPlanningTimeInMillis = ptr(ms(s.planning))
		q.Statistics.ResultReuseInformation = &struct{ ReusedPreviousResult bool }{x.out.ReusedPreviousResult}
		if x.out.DPUCount > 0 {
			dpu := x.out.DPUCount
			q.Statistics.DpuCount = &dpu
		}
	}
	if final {
		q.Statistics.ServiceProcessingTimeInMillis = ptr(ms(s.serviceProcessing))
	}
	return q
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
