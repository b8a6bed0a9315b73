package cloudtrail

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// athenaCall is an Athena read call as CloudTrail writes it; %s is where a
// test puts the eventName member.
const athenaCall = `{"eventVersion":"1.09","userIdentity":{"type":"IAMUser","principalId":"AIDAEXAMPLE","arn":"arn:aws:iam::123456789012:user/johndoe","accountId":"123456789012","userName":"johndoe"},"eventTime":"2026-03-01T10:00:02Z","eventSource":"athena.amazonaws.com",%s"awsRegion":"eu-west-1","sourceIPAddress":"10.0.0.1","userAgent":"aws-sdk-go-v2/1.36.3","requestParameters":{"queryExecutionId":"q-1","maxResults":1000,"nextToken":"AYADeJ+/xyz=="},"responseElements":null,"eventID":"e-9","readOnly":true,"eventType":"AwsApiCall","recipientAccountId":"123456789012"}`

func withName(member string) string { return strings.Replace(athenaCall, "%s", member, 1) }

// withLast adds member as the last member of the object rec.
func withLast(rec, member string) string { return rec[:len(rec)-1] + "," + member + "}" }

func TestClassifyRecordAgreesWithDecoding(t *testing.T) {
	t.Parallel()
	huge := `"requestParameters":{"nested":{"eventName":"StartQueryExecution","list":[` + strings.Repeat(`{"a":"}]\"{[","eventName":"x"},`, 2000) + `1]}},`
	tests := []struct {
		name   string
		record string
		want   recordClass
	}{
		{"GetQueryExecution", withName(`"eventName":"GetQueryExecution",`), classAthenaCall},
		{"GetQueryResults", withName(`"eventName":"GetQueryResults",`), classAthenaCall},
		{"ListQueryExecutions", strings.Replace(withName(`"eventName":"ListQueryExecutions",`), `{"queryExecutionId":"q-1","maxResults":1000,"nextToken":"AYADeJ+/xyz=="}`, `{"workGroup":"primary","maxResults":50}`, 1), classAthenaCall},
		{"BatchGetQueryExecution", strings.Replace(withName(`"eventName":"BatchGetQueryExecution",`), `{"queryExecutionId":"q-1","maxResults":1000,"nextToken":"AYADeJ+/xyz=="}`, `{"queryExecutionIds":["a","b","c"]}`, 1), classAthenaCall},
		{"eventName last", withLast(withName(``), `"eventName":"GetWorkGroup"`), classAthenaCall},
		{"eventName after a huge nested object", withName(huge + `"eventName":"GetQueryRuntimeStatistics",`), classAthenaCall},
		{"pretty", pretty(withName(`"eventName":"GetQueryExecution",`)), classAthenaCall},
		{"blanks around colon", withName(`"eventName" :	"GetQueryExecution" ,`), classAthenaCall},
		{"StartQueryExecution", sqeQuery, classUnsure},
		{"rejected StartQueryExecution", sqeRejected, classUnsure},
		{"escaped StartQueryExecution", withName(`"eventName":"Start\u0051ueryExecution",`), classUnsure},
		{"escaped other name", withName(`"eventName":"Get\u0051ueryExecution",`), classUnsure},
		{"escaped key", withName(`"event\u004eame":"StartQueryExecution",`), classUnsure},
		{"case-folded key", withName(`"EventName":"StartQueryExecution",`), classUnsure},
		{"case-folded key after the real one", withName(`"eventName":"GetQueryExecution","EVENTNAME":"StartQueryExecution",`), classUnsure},
		{"long s folds to S", strings.Replace(withName(`"eventName":"GetQueryExecution",`), `"eventSource"`, `"eventſource"`, 1), classUnsure},
		{"Kelvin sign in an escaped key", withName(`"eventName":"GetQueryExecution","\u212a":1,`), classAthenaCall},
		{"duplicated eventName", withName(`"eventName":"GetQueryExecution","eventName":"StartQueryExecution",`), classUnsure},
		{"duplicated eventSource", withName(`"eventName":"GetQueryExecution","eventSource":"athena.amazonaws.com",`), classUnsure},
		{"eventName null", withName(`"eventName":null,`), classUnsure},
		{"eventName a number", withName(`"eventName":7,`), classUnsure},
		{"no eventName", withName(``), classUnsure},
		{"nested eventName only", withName(`"additionalEventData":{"eventName":"GetQueryExecution"},`), classUnsure},
		{"nested StartQueryExecution", withName(`"eventName":"GetQueryExecution","additionalEventData":{"eventName":"StartQueryExecution"},`), classAthenaCall},
		{"control character in eventName", withName("\"eventName\":\"GetQuery\x01Execution\","), classUnsure},
		{"Insights record about Athena", `{"eventVersion":"1.07","eventTime":"2019-11-14T00:51:00Z","awsRegion":"us-east-1","eventID":"i-1","eventType":"AwsCloudTrailInsight","recipientAccountId":"123456789012","sharedEventID":"s-1","insightDetails":{"state":"Start","eventSource":"athena.amazonaws.com","eventName":"GetQueryExecution","insightType":"ApiCallRateInsight"},"eventCategory":"Insight"}`, classUnsure},
		{"Insights type with an Athena source", strings.Replace(withName(`"eventName":"GetQueryExecution",`), `"AwsApiCall"`, `"AwsCloudTrailInsight"`, 1), classUnsure},
		{"nested Athena source only", `{"eventSource":"s3.amazonaws.com","eventName":"GetObject","requestParameters":{"eventSource":"athena.amazonaws.com"}}`, classOther},
		{"escaped eventSource", strings.Replace(withName(`"eventName":"GetQueryExecution",`), `"athena.amazonaws.com"`, `"athena.amazonaws.co\u006d"`, 1), classUnsure},
		{"other service", ec2Record, classOther},
		{"empty object", `{}`, classUnsure},
		{"not an object", `[1]`, classUnsure},
		{"missing colon", `{"eventSource" "athena.amazonaws.com"}`, classUnsure},
		{"trailing comma", strings.TrimSuffix(withName(`"eventName":"GetQueryExecution",`), "}") + ",}", classUnsure},
		{"bad scalar", withName(`"eventName":"GetQueryExecution","x":@,`), classUnsure},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := classifyRecord([]byte(tt.record))
			if got != tt.want {
				t.Errorf("classifyRecord = %d, want %d", got, tt.want)
			}
			checkClassAgrees(t, []byte(tt.record), got)
		})
	}
}

// checkClassAgrees fails when a class other than classUnsure disagrees
// with decoding a valid record.
func checkClassAgrees(t *testing.T, rec []byte, class recordClass) {
	t.Helper()
	if class == classUnsure || !json.Valid(rec) {
		return
	}
	ev, kind, err := parseRecord(rec)
	switch {
	case class == classOther && kind != kindOther:
		t.Fatalf("classified as not Athena, decoded as kind %d", kind)
	case class == classAthenaCall && (kind != kindAthena || ev != nil || err != nil):
		t.Fatalf("classified as an Athena call, decoded as kind %d, event %v, error %v", kind, ev, err)
	}
}

func TestMatchKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		key  string
		want keyKind
	}{
		{"eventName", keyName}, {"eventSource", keySource}, {"eventType", keyType},
		{"eventname", keyUnsure}, {"EVENTSOURCE", keyUnsure}, {"eventTYPE", keyUnsure},
		{"eventTime", keyOther}, {"eventID", keyOther}, {"awsRegion", keyOther}, {"recipientAccountId", keyOther},
		{`event\u004eame`, keyUnsure}, {`eventſource`, keyUnsure}, {"eventNamé", keyUnsure},
		{`\u0061`, keyOther}, {"é", keyOther}, {"", keyOther},
	}
	for _, tt := range tests {
		if got := matchKey([]byte(tt.key)); got != tt.want {
			t.Errorf("matchKey(%q) = %d, want %d", tt.key, got, tt.want)
		}
	}
}

// BenchmarkClassifyRecord measures the look at one Athena read call's
// top-level keys that spares decoding it.
func BenchmarkClassifyRecord(b *testing.B) {
	g := newTrailGen(3)
	g.athenaReads = 1
	var buf bytes.Buffer
	g.record(&buf)
	rec := buf.Bytes()
	if classifyRecord(rec) != classAthenaCall {
		b.Fatalf("not classified as an Athena call: %s", rec)
	}
	b.SetBytes(int64(len(rec)))
	for b.Loop() {
		classifyRecord(rec)
	}
}
