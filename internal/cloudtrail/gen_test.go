package cloudtrail

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// trailGen writes realistic CloudTrail log files for tests and benchmarks:
// minified records as CloudTrail delivers them, about 99% from other
// services, some of those (S3 data events, Glue, KMS) invoked by Athena so
// that they pass the cheap pre-filter.
type trailGen struct {
	rng  *rand.Rand
	t    time.Time
	n    int
	want []string // query ids of StartQueryExecution records written
	rej  []string // event ids of rejected submissions written
	// athenaReads is the share of records that are Athena's read calls
	// (GetQueryExecution, GetQueryResults, ...), as in an account where BI
	// tools and SDK waiters poll Athena; 0 keeps the usual mix.
	athenaReads float64
}

func newTrailGen(seed uint64) *trailGen {
	return &trailGen{
		rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		t:   time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC),
	}
}

func (g *trailGen) id() string {
	return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", g.rng.Uint32(), g.rng.Uint32()&0xffff,
		g.rng.Uint32()&0xffff, g.rng.Uint32()&0xffff, g.rng.Uint64()&0xffffffffffff)
}

const genAssumedRole = `{"type":"AssumedRole","principalId":"AROA3EXAMPLEROLEID:%[1]s","arn":"arn:aws:sts::111122223333:assumed-role/%[2]s/%[1]s","accountId":"111122223333","accessKeyId":"ASIA3EXAMPLEKEYID","sessionContext":{"sessionIssuer":{"type":"Role","principalId":"AROA3EXAMPLEROLEID","arn":"arn:aws:iam::111122223333:role/%[2]s","accountId":"111122223333","userName":"%[2]s"},"webIdFederationData":{},"attributes":{"creationDate":"2026-03-01T00:00:00Z","mfaAuthenticated":"false"}}}`

// athenaReadCalls are the calls clients poll Athena with, and their
// requestParameters as CloudTrail records them (%s: a query id).
var athenaReadCalls = []struct{ name, params string }{
	{"GetQueryExecution", `{"queryExecutionId":"%s"}`},
	{"GetQueryExecution", `{"queryExecutionId":"%s"}`},
	{"GetQueryResults", `{"queryExecutionId":"%s","maxResults":1000,"nextToken":"AYADeEXAMPLEtokenEXAMPLE%[1]s"}`},
	{"GetQueryRuntimeStatistics", `{"queryExecutionId":"%s"}`},
	{"BatchGetQueryExecution", `{"queryExecutionIds":["%s","%[1]s","%[1]s"]}`},
	{"ListQueryExecutions", `{"workGroup":"analysts","maxResults":50}`},
	{"GetWorkGroup", `{"workGroup":"analysts"}`},
}

// record appends one record to b.
func (g *trailGen) record(b *bytes.Buffer) {
	g.n++
	g.t = g.t.Add(time.Duration(g.rng.IntN(900)) * time.Millisecond)
	ts := g.t.Format(time.RFC3339)
	session := fmt.Sprintf("i-%017x", g.rng.Uint64()&0xfffffffffffffff)
	ident := fmt.Sprintf(genAssumedRole, session, "app-role-"+fmt.Sprint(g.rng.IntN(20)))
	common := fmt.Sprintf(`"eventVersion":"1.09","userIdentity":%s,"eventTime":"%s"`, ident, ts)
	tail := fmt.Sprintf(`"requestID":"%s","eventID":"%s","readOnly":true,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111122223333","eventCategory":"Management","tlsDetails":{"tlsVersion":"TLSv1.3","cipherSuite":"TLS_AES_128_GCM_SHA256","clientProvidedHostHeader":"ec2.eu-west-1.amazonaws.com"}`, g.id(), g.id())
	if g.athenaReads > 0 && g.rng.Float64() < g.athenaReads {
		c := athenaReadCalls[g.rng.IntN(len(athenaReadCalls))]
		params := c.params
		if strings.Contains(params, "%") {
			params = fmt.Sprintf(params, g.id())
		}
		fmt.Fprintf(b, `{%s,"eventSource":"athena.amazonaws.com","eventName":"%s","awsRegion":"eu-west-1","sourceIPAddress":"10.1.2.3","userAgent":"AthenaJDBC/3.2.1 (Linux; OpenJDK 17.0.11) aws-sdk-java/2.25.40","requestParameters":%s,"responseElements":null,%s}`,
			common, c.name, params, tail)
		return
	}
	switch p := g.rng.IntN(1000); {
	case p < 5:
		qid := g.id()
		g.want = append(g.want, qid)
		fmt.Fprintf(b, `{%s,"eventSource":"athena.amazonaws.com","eventName":"StartQueryExecution","awsRegion":"eu-west-1","sourceIPAddress":"10.1.2.3","userAgent":"aws-sdk-go-v2/1.36.3 os/linux lang/go#1.24 api/athena#1.50.0","requestParameters":{"queryString":"***OMITTED***","clientRequestToken":"%s","queryExecutionContext":{"database":"sales","catalog":"awsdatacatalog"},"workGroup":"analysts"},"responseElements":{"queryExecutionId":"%s"},%s}`,
			common, g.id(), qid, tail)
	case p < 6:
		fmt.Fprintf(b, `{%s,"eventSource":"athena.amazonaws.com","eventName":"StartQueryExecution","awsRegion":"eu-west-1","sourceIPAddress":"10.1.2.3","userAgent":"aws-cli/2.15.0","errorCode":"InvalidRequestException","errorMessage":"line 1:8: mismatched input 'FORM'","requestParameters":{"queryString":"SELECT * FORM t","clientRequestToken":"%s","workGroup":"primary"},"responseElements":null,`,
			common, g.id())
		eid := g.id()
		g.rej = append(g.rej, eid)
		fmt.Fprintf(b, `"requestID":"%s","eventID":"%s","readOnly":false,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111122223333","eventCategory":"Management"}`, g.id(), eid)
	case p < 10:
		fmt.Fprintf(b, `{%s,"eventSource":"athena.amazonaws.com","eventName":"GetQueryExecution","awsRegion":"eu-west-1","sourceIPAddress":"10.1.2.3","userAgent":"aws-sdk-go-v2/1.36.3","requestParameters":{"queryExecutionId":"%s"},"responseElements":null,%s}`,
			common, g.id(), tail)
	case p < 40:
		// S3 data event caused by an Athena query: mentions athena.amazonaws.com.
		fmt.Fprintf(b, `{%s,"eventSource":"s3.amazonaws.com","eventName":"GetObject","awsRegion":"eu-west-1","sourceIPAddress":"athena.amazonaws.com","userAgent":"athena.amazonaws.com","requestParameters":{"bucketName":"datalake-raw","Host":"datalake-raw.s3.eu-west-1.amazonaws.com","key":"sales/dt=2026-02-%02d/part-%05d.parquet"},"responseElements":null,"additionalEventData":{"SignatureVersion":"SigV4","CipherSuite":"TLS_AES_128_GCM_SHA256","bytesTransferredIn":0,"AuthenticationMethod":"AuthHeader","x-amz-id-2":"EXAMPLEid2+EXAMPLEid2=","bytesTransferredOut":1048576},"resources":[{"type":"AWS::S3::Object","ARN":"arn:aws:s3:::datalake-raw/sales/part.parquet"},{"accountId":"111122223333","type":"AWS::S3::Bucket","ARN":"arn:aws:s3:::datalake-raw"}],%s}`,
			common, 1+g.rng.IntN(28), g.rng.IntN(99999), tail)
	case p < 400:
		fmt.Fprintf(b, `{%s,"eventSource":"ec2.amazonaws.com","eventName":"DescribeInstances","awsRegion":"eu-west-1","sourceIPAddress":"10.%d.%d.%d","userAgent":"aws-sdk-go-v2/1.36.3 os/linux lang/go#1.24 api/ec2#1.200.0 m/E","requestParameters":{"instancesSet":{"items":[{"instanceId":"%s"}]},"filterSet":{"items":[{"name":"tag:Name","valueSet":{"items":[{"value":"web \"frontend\" \\ tier"}]}}]}},"responseElements":null,%s}`,
			common, g.rng.IntN(256), g.rng.IntN(256), g.rng.IntN(256), session, tail)
	case p < 700:
		fmt.Fprintf(b, `{%s,"eventSource":"kms.amazonaws.com","eventName":"Decrypt","awsRegion":"eu-west-1","sourceIPAddress":"lambda.amazonaws.com","userAgent":"lambda.amazonaws.com","requestParameters":{"encryptionContext":{"aws:lambda:FunctionArn":"arn:aws:lambda:eu-west-1:111122223333:function:ingest-%d"},"encryptionAlgorithm":"SYMMETRIC_DEFAULT"},"responseElements":null,"resources":[{"accountId":"111122223333","type":"AWS::KMS::Key","ARN":"arn:aws:kms:eu-west-1:111122223333:key/%s"}],%s}`,
			common, g.rng.IntN(50), g.id(), tail)
	default:
		fmt.Fprintf(b, `{%s,"eventSource":"sts.amazonaws.com","eventName":"AssumeRole","awsRegion":"eu-west-1","sourceIPAddress":"ecs-tasks.amazonaws.com","userAgent":"ecs-tasks.amazonaws.com","requestParameters":{"roleArn":"arn:aws:iam::111122223333:role/task-role","roleSessionName":"%s","durationSeconds":3600},"responseElements":{"credentials":{"accessKeyId":"ASIA3EXAMPLEKEY","sessionToken":"IQoJb3JpZ2luX2VjEXAMPLEtokenEXAMPLEtokenEXAMPLEtokenEXAMPLEtoken","expiration":"Mar 1, 2026, 1:00:00 AM"},"assumedRoleUser":{"assumedRoleId":"AROA3EXAMPLE:%[2]s","arn":"arn:aws:sts::111122223333:assumed-role/task-role/%[2]s"}},%[3]s}`,
			common, session, tail)
	}
}

// file returns one log file of about size bytes.
func (g *trailGen) file(size int) []byte {
	var b bytes.Buffer
	b.Grow(size + 4096)
	b.WriteString(`{"Records":[`)
	for first := true; b.Len() < size; first = false {
		if !first {
			b.WriteByte(',')
		}
		g.record(&b)
	}
	b.WriteString("]}")
	return b.Bytes()
}
