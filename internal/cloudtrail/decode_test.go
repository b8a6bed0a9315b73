package cloudtrail

import (
	"encoding/json"
	"reflect"
	"testing"
)

// sqeTrustedIdentity is a StartQueryExecution record of an Identity Center
// trusted identity propagation session as CloudTrail writes it.
const sqeTrustedIdentity = `{"eventVersion":"1.09","userIdentity":{"type":"AssumedRole","principalId":"AROAEXAMPLE:quicksight-tip-heidi","arn":"arn:aws:sts::111111111111:assumed-role/quicksight-tip-access/quicksight-tip-heidi","accountId":"111111111111","accessKeyId":"ASIAEXAMPLE","sessionContext":{"sessionIssuer":{"type":"Role","principalId":"AROAEXAMPLE","arn":"arn:aws:iam::111111111111:role/quicksight-tip-access","accountId":"111111111111","userName":"quicksight-tip-access"},"webIdFederationData":{},"attributes":{"creationDate":"2026-01-04T08:00:00Z","mfaAuthenticated":"false"},"sourceIdentity":""},"onBehalfOf":{"userId":"94482488-3041-7026-18f0-7c5e9a1b2d3f","identityStoreArn":"arn:aws:identitystore::111111111111:identitystore/d-9067c1a2b3"}},"eventTime":"2026-01-05T00:00:01Z","eventSource":"athena.amazonaws.com","eventName":"StartQueryExecution","awsRegion":"eu-west-2","sourceIPAddress":"10.1.2.3","userAgent":"AWSAthenaConsole","requestParameters":{"queryString":"***OMITTED***","queryExecutionContext":{"database":"finance"},"resultConfiguration":{"outputLocation":"s3://results/"},"workGroup":"primary","clientRequestToken":"0b8e5a52-5f1c-4b2e-9d1a-3c4b5d6e7f80"},"responseElements":{"queryExecutionId":"9d1a3c4b-5d6e-4f80-8b8e-5a525f1c4b2e"},"requestID":"r-1","eventID":"e-9","readOnly":false,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111111111111","eventCategory":"Management","tlsDetails":{"tlsVersion":"TLSv1.3","cipherSuite":"TLS_AES_128_GCM_SHA256","clientProvidedHostHeader":"athena.eu-west-2.amazonaws.com"},"sessionCredentialFromConsole":"true"}`

// TestDecodeRecord checks the fast decoder against encoding/json: where it
// decodes, the result is encoding/json's; where it must not be trusted, it
// gives up (and the caller uses encoding/json).
func TestDecodeRecord(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		record string
		fast   bool // the fast decoder is expected to handle it
	}{
		{"query", sqeQuery, true},
		{"rejected", sqeRejected, true},
		{"trusted identity", sqeTrustedIdentity, true},
		{"other service", ec2Record, true},
		{"insight", insightRec, true},
		{"empty object", `{}`, true},
		{"blanks around", " \n{ \"eventID\" : \"e\" , \"x\" : [ 1 , -2.5e+3 , true , null , { } ] }\t", true},
		{"null fields", `{"userIdentity":null,"requestParameters":null,"responseElements":null,"eventID":null}`, true},
		{"null query string", `{"requestParameters":{"queryString":null,"queryExecutionContext":null}}`, true},
		{"escaped value", `{"eventID":"a\"b\\c\u00e9\n","userAgent":"caf\u00e9 \ud83d\ude00"}`, true},
		{"utf-8 value", `{"userAgent":"café"}`, true},
		{"invalid utf-8 value", "{\"userAgent\":\"caf\xe9\"}", true},
		{"type error", `{"eventID":5,"awsRegion":"eu-west-1"}`, false},
		{"object where a string is", `{"eventName":{"a":1}}`, false},
		{"string where an object is", `{"userIdentity":"alice"}`, false},
		{"repeated key", `{"eventID":"a","eventID":"b"}`, false},
		{"repeated object", `{"requestParameters":{"workGroup":"a"},"requestParameters":{"database":"b"}}`, false},
		{"other case key", `{"EventID":"a"}`, false},
		{"escaped key", `{"event\u0049D":"a"}`, false},
		{"non-ASCII key", `{"eventſource":"a"}`, false},
		{"trailing data", `{"eventID":"a"} x`, false},
		{"two objects", `{}{}`, false},
		{"not an object", `["a"]`, false},
		{"null record", `null`, false},
		{"truncated", `{"eventID":"a"`, false},
		{"bad number", `{"x":01}`, false},
		{"bad literal", `{"x":nul}`, false},
		{"bad escape", `{"x":"\q"}`, false},
		{"control character", "{\"x\":\"a\tb\"}", false},
		{"trailing comma", `{"x":1,}`, false},
		{"missing colon", `{"x" 1}`, false},
		{"deep nesting", `{"x":` + repeat("[", 100) + repeat("]", 100) + `}`, false},
		{"empty", ``, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var fast rawRecord
			ok := decodeRecord([]byte(tt.record), &fast)
			if ok != tt.fast {
				t.Fatalf("decodeRecord = %v, want %v", ok, tt.fast)
			}
			if ok {
				checkLikeEncodingJSON(t, []byte(tt.record), &fast)
			}
		})
	}
}

func repeat(s string, n int) string {
	out := ""
	for range n {
		out += s
	}
	return out
}

// checkLikeEncodingJSON fails unless encoding/json decodes data without an
// error into exactly fast.
func checkLikeEncodingJSON(t *testing.T, data []byte, fast *rawRecord) {
	t.Helper()
	var slow rawRecord
	if err := json.Unmarshal(data, &slow); err != nil {
		t.Fatalf("fast decoder accepted %q, encoding/json: %v", data, err)
	}
	if !reflect.DeepEqual(*fast, slow) {
		t.Fatalf("%q:\nfast %+v\nwant %+v", data, *fast, slow)
	}
}

// FuzzDecodeRecord: whatever the fast decoder accepts, encoding/json
// accepts too and decodes to the same record.
func FuzzDecodeRecord(f *testing.F) {
	for _, s := range []string{sqeQuery, sqeRejected, sqeTrustedIdentity, ec2Record, insightRec, otherAthena,
		`{"requestParameters":{"queryString":null}}`, `{"eventID":"a\u00e9"}`, `{"x":[1,{"y":-0.5E-2}]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var fast rawRecord
		if decodeRecord(data, &fast) {
			checkLikeEncodingJSON(t, data, &fast)
		}
	})
}

// BenchmarkParseRecord decodes one StartQueryExecution record, as the
// reader does for every query event.
func BenchmarkParseRecord(b *testing.B) {
	for _, bc := range []struct {
		name   string
		decode func([]byte, *rawRecord) bool
	}{
		{"fast", decodeRecord},
		{"encoding-json", func(data []byte, rr *rawRecord) bool { return json.Unmarshal(data, rr) == nil }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			data := []byte(sqeTrustedIdentity)
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				var rr rawRecord
				if !bc.decode(data, &rr) {
					b.Fatal("not decoded")
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
