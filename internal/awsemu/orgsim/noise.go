package orgsim

import (
	"math/rand/v2"
	"strconv"
	"time"
)

// The noise generator writes CloudTrail records of the services that
// dominate a real organization trail (S3 and Lambda data events, KMS, STS,
// EC2 describes, IAM, CloudWatch, Logs, DynamoDB, Glue, Secrets Manager).
// It appends bytes from fixed templates with random fields, no reflection and
// no per-record allocation, because the benchmark trail needs gigabytes.

func appendHex(b []byte, rng *rand.Rand, n int) []byte {
	return appendRandomChars(b, rng, n, "0123456789abcdef", 4)
}

func appendUpperAlnum(b []byte, rng *rand.Rand, n int) []byte {
	return appendRandomChars(b, rng, n, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 5)
}

// appendRandomChars appends n characters drawn from chars, whose length is
// 1<<bits, taking as many characters as fit from each random 64-bit word.
func appendRandomChars(b []byte, rng *rand.Rand, n int, chars string, bits uint) []byte {
	mask := uint64(1)<<bits - 1
	perWord := 64 / int(bits)
	for n > 0 {
		v := rng.Uint64()
		for i := 0; i < perWord && n > 0; i++ {
			b = append(b, chars[v&mask])
			v >>= bits
			n--
		}
	}
	return b
}

// appendUUID appends a random version 4 UUID.
func appendUUID(b []byte, rng *rand.Rand) []byte {
	b = appendHex(b, rng, 8)
	b = append(b, '-')
	b = appendHex(b, rng, 4)
	b = append(b, "-4"...)
	b = appendHex(b, rng, 3)
	b = append(b, '-')
	b = append(b, "89ab"[rng.IntN(4)])
	b = appendHex(b, rng, 3)
	b = append(b, '-')
	return appendHex(b, rng, 12)
}

func appendTime(b []byte, t time.Time) []byte {
	return t.AppendFormat(b, "2006-01-02T15:04:05Z")
}

// noiseIdentity is a prepared fragment: `"userIdentity":{...},` followed by
// nothing else, plus the source IP and user agent such a caller uses.
type noiseIdentity struct {
	userIdentity []byte
	sourceIP     string
	userAgent    string
	service      bool // an AWSService caller: sourceIPAddress is the service
}

type noiseAccount struct {
	identities []noiseIdentity
	buckets    []string
	functions  []string
	tables     []string
	keys       []string // KMS key ids
}

type noiseGen struct {
	rng      *rand.Rand
	accounts map[string]*noiseAccount
	// now is the time of the record being generated, kept here so that the
	// templates need not pass it around.
	now time.Time
}

func newNoiseGen(seed uint64) *noiseGen {
	return &noiseGen{rng: rand.New(rand.NewPCG(seed, 0x6e6f)), accounts: make(map[string]*noiseAccount)}
}

var (
	noiseUsers     = []string{"terraform", "ci-deploy", "backup-operator", "ops-admin", "grafana-reader", "dana", "erik"}
	noiseRoles     = []string{"eks-node-group", "lambda-ingest-exec", "ecs-task-orders", "AWSServiceRoleForConfig", "datadog-integration", "github-actions-deploy", "AWSReservedSSO_ReadOnly_0f3b2a91c4d5e6f7", "glue-crawler-role", "airflow-worker"}
	noiseServices  = []string{"lambda.amazonaws.com", "ec2.amazonaws.com", "s3.amazonaws.com", "cloudformation.amazonaws.com", "config.amazonaws.com", "glue.amazonaws.com"}
	noiseAgents    = []string{"aws-sdk-go-v2/1.30.3 os/linux lang/go#1.22.5 md/GOOS#linux md/GOARCH#amd64 api/s3#1.58.2", "Boto3/1.34.144 md/Botocore#1.34.144 ua/2.0 os/linux#5.10.219-208.866.amzn2.x86_64 md/arch#x86_64 lang/python#3.11.9 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.144", "aws-cli/2.17.20 md/awscrt#0.20.11 ua/2.0 os/macos#23.5.0 md/arch#arm64 lang/python#3.11.9 md/pyimpl#CPython cfg/retry-mode#standard md/installer#source md/prompt#off md/command#s3.cp", "Terraform/1.9.3 (+https://www.terraform.io) terraform-provider-aws/5.60.0 (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.30.3 ua/2.0 os/linux lang/go#1.22.5 md/GOOS#linux md/GOARCH#amd64 api/ec2#1.172.0", "aws-internal/3 aws-sdk-java/1.12.720 Linux/5.10.219 OpenJDK_64-Bit_Server_VM/25.402-b08 java/1.8.0_402 vendor/Oracle_Corporation cfg/retry-mode/standard", "console.amazonaws.com", "Grafana/11.1.0 aws-sdk-go/1.51.30 (go1.22.5; linux; amd64)"}
	noiseWords     = []string{"orders", "events", "clickstream", "raw", "curated", "invoices", "sessions", "exports", "backups", "images", "partition", "daily", "hourly", "archive", "staging", "reports"}
	ec2Filters     = []string{"instance-state-name", "tag:Environment", "vpc-id", "availability-zone", "tag:Team", "instance-type"}
	dynamoAttrs    = []string{"pk", "sk", "customer_id", "order_id", "session_id"}
	logGroupPrefix = []string{"/aws/lambda/", "/aws/ecs/", "/aws/eks/prod/", "/app/", "/aws/glue/jobs/"}
)

func (g *noiseGen) account(id string) *noiseAccount {
	if a := g.accounts[id]; a != nil {
		return a
	}
	rng := g.rng
	a := &noiseAccount{}
	ip := func() string {
		return strconv.Itoa(10+rng.IntN(200)) + "." + strconv.Itoa(rng.IntN(256)) + "." + strconv.Itoa(rng.IntN(256)) + "." + strconv.Itoa(1+rng.IntN(254))
	}
	for _, u := range noiseUsers {
		var b []byte
		b = append(b, `"userIdentity":{"type":"IAMUser","principalId":"AIDA`...)
		b = appendUpperAlnum(b, rng, 17)
		b = append(b, `","arn":"arn:aws:iam::`...)
		b = append(b, id...)
		b = append(b, `:user/`...)
		b = append(b, u...)
		b = append(b, `","accountId":"`...)
		b = append(b, id...)
		b = append(b, `","accessKeyId":"AKIA`...)
		b = appendUpperAlnum(b, rng, 16)
		b = append(b, `","userName":"`...)
		b = append(b, u...)
		b = append(b, `"},`...)
		a.identities = append(a.identities, noiseIdentity{userIdentity: b, sourceIP: ip(), userAgent: noiseAgents[rng.IntN(len(noiseAgents))]})
	}
	for _, r := range noiseRoles {
		roleID := appendUpperAlnum([]byte("AROA"), rng, 17)
		session := "i-0" + string(appendHex(nil, rng, 16))
		if rng.IntN(3) == 0 {
			session = "botocore-session-" + strconv.Itoa(1700000000+rng.IntN(90000000))
		}
		var b []byte
		b = append(b, `"userIdentity":{"type":"AssumedRole","principalId":"`...)
		b = append(b, roleID...)
		b = append(b, ':')
		b = append(b, session...)
		b = append(b, `","arn":"arn:aws:sts::`...)
		b = append(b, id...)
		b = append(b, `:assumed-role/`...)
		b = append(b, r...)
		b = append(b, '/')
		b = append(b, session...)
		b = append(b, `","accountId":"`...)
		b = append(b, id...)
		b = append(b, `","accessKeyId":"ASIA`...)
		b = appendUpperAlnum(b, rng, 16)
		b = append(b, `","sessionContext":{"sessionIssuer":{"type":"Role","principalId":"`...)
		b = append(b, roleID...)
		b = append(b, `","arn":"arn:aws:iam::`...)
		b = append(b, id...)
		b = append(b, `:role/`...)
		b = append(b, r...)
		b = append(b, `","accountId":"`...)
		b = append(b, id...)
		b = append(b, `","userName":"`...)
		b = append(b, r...)
		b = append(b, `"},"attributes":{"creationDate":"2026-01-01T00:00:00Z","mfaAuthenticated":"false"}}},`...)
		a.identities = append(a.identities, noiseIdentity{userIdentity: b, sourceIP: ip(), userAgent: noiseAgents[rng.IntN(len(noiseAgents))]})
	}
	for _, s := range noiseServices {
		var b []byte
		b = append(b, `"userIdentity":{"type":"AWSService","invokedBy":"`...)
		b = append(b, s...)
		b = append(b, `"},`...)
		a.identities = append(a.identities, noiseIdentity{userIdentity: b, sourceIP: s, userAgent: s, service: true})
	}
	for i := 0; i < 6; i++ {
		a.buckets = append(a.buckets, "acme-"+noiseWords[rng.IntN(len(noiseWords))]+"-"+id[8:]+"-"+strconv.Itoa(i))
		a.functions = append(a.functions, noiseWords[rng.IntN(len(noiseWords))]+"-"+noiseWords[rng.IntN(len(noiseWords))]+"-handler")
		a.tables = append(a.tables, noiseWords[rng.IntN(len(noiseWords))]+"_"+noiseWords[rng.IntN(len(noiseWords))])
		a.keys = append(a.keys, string(appendUUID(nil, rng)))
	}
	g.accounts[id] = a
	return a
}

// noiseKinds are the record templates with their weights (out of 1000),
// roughly the mix of a busy organization trail with S3 and Lambda data
// events on.
var noiseKinds = []struct {
	weight int
	fn     func(g *noiseGen, b []byte, a *noiseAccount, account, region string) []byte
}{
	{260, appendS3Object},
	{130, appendKMS},
	{80, appendAssumeRole},
	{120, appendEC2Describe},
	{50, appendIAMGet},
	{90, appendLambdaInvoke},
	{50, appendLogs},
	{50, appendCloudWatch},
	{100, appendDynamoDB},
	{50, appendGlue},
	{20, appendSecret},
}

var noiseTotalWeight = func() int {
	n := 0
	for _, k := range noiseKinds {
		n += k.weight
	}
	return n
}()

// appendRecord appends one noise record of account and region at t.
func (g *noiseGen) appendRecord(b []byte, account, region string, t time.Time) []byte {
	a := g.account(account)
	g.now = t
	pick := g.rng.IntN(noiseTotalWeight)
	for _, k := range noiseKinds {
		if pick < k.weight {
			return k.fn(g, b, a, account, region)
		}
		pick -= k.weight
	}
	return appendS3Object(g, b, a, account, region)
}

// header appends the fields every record starts with, up to and including
// `"userAgent":"...",`.
func (g *noiseGen) header(b []byte, _ *noiseAccount, t time.Time, region, source, name string, identity *noiseIdentity) []byte {
	b = append(b, `{"eventVersion":"1.09",`...)
	b = append(b, identity.userIdentity...)
	b = append(b, `"eventTime":"`...)
	b = appendTime(b, t)
	b = append(b, `","eventSource":"`...)
	b = append(b, source...)
	b = append(b, `","eventName":"`...)
	b = append(b, name...)
	b = append(b, `","awsRegion":"`...)
	b = append(b, region...)
	b = append(b, `","sourceIPAddress":"`...)
	b = append(b, identity.sourceIP...)
	b = append(b, `","userAgent":"`...)
	b = append(b, identity.userAgent...)
	b = append(b, `",`...)
	return b
}

// trailer appends requestID, eventID and the closing fields.
func (g *noiseGen) trailer(b []byte, account string, readOnly bool, category string, tls bool, host string) []byte {
	b = append(b, `"requestID":"`...)
	b = appendUUID(b, g.rng)
	b = append(b, `","eventID":"`...)
	b = appendUUID(b, g.rng)
	if readOnly {
		b = append(b, `","readOnly":true,"eventType":"AwsApiCall","managementEvent":`...)
	} else {
		b = append(b, `","readOnly":false,"eventType":"AwsApiCall","managementEvent":`...)
	}
	if category == "Data" {
		b = append(b, `false`...)
	} else {
		b = append(b, `true`...)
	}
	b = append(b, `,"recipientAccountId":"`...)
	b = append(b, account...)
	b = append(b, `","eventCategory":"`...)
	b = append(b, category...)
	b = append(b, '"')
	if tls {
		b = append(b, `,"tlsDetails":{"tlsVersion":"TLSv1.3","cipherSuite":"TLS_AES_128_GCM_SHA256","clientProvidedHostHeader":"`...)
		b = append(b, host...)
		b = append(b, `"}`...)
	}
	return append(b, '}')
}

func (g *noiseGen) identity(a *noiseAccount, serviceOK bool) *noiseIdentity {
	for {
		id := &a.identities[g.rng.IntN(len(a.identities))]
		if serviceOK || !id.service {
			return id
		}
	}
}

func (g *noiseGen) word() string { return noiseWords[g.rng.IntN(len(noiseWords))] }

func appendS3Object(g *noiseGen, b []byte, a *noiseAccount, account, region string) []byte {
	names := [...]string{"GetObject", "GetObject", "PutObject", "HeadObject"}
	name := names[g.rng.IntN(len(names))]
	id := g.identity(a, true)
	bucket := a.buckets[g.rng.IntN(len(a.buckets))]
	b = g.header(b, a, g.now, region, "s3.amazonaws.com", name, id)
	b = append(b, `"requestParameters":{"bucketName":"`...)
	b = append(b, bucket...)
	b = append(b, `","Host":"`...)
	b = append(b, bucket...)
	b = append(b, `.s3.`...)
	b = append(b, region...)
	b = append(b, `.amazonaws.com","key":"`...)
	key := len(b)
	for i, n := 0, 2+g.rng.IntN(5); i < n; i++ {
		b = append(b, g.word()...)
		b = append(b, '/')
	}
	b = append(b, "dt=2026-"...)
	b = strconv.AppendInt(b, int64(1+g.rng.IntN(12)), 10)
	b = append(b, "/part-"...)
	b = appendHex(b, g.rng, 20)
	b = append(b, ".snappy.parquet"...)
	keyEnd := len(b)
	b = append(b, `"},"responseElements":`...)
	if name == "PutObject" {
		b = append(b, `{"x-amz-server-side-encryption":"aws:kms","x-amz-server-side-encryption-aws-kms-key-id":"arn:aws:kms:`...)
		b = append(b, region...)
		b = append(b, ':')
		b = append(b, account...)
		b = append(b, `:key/`...)
		b = append(b, a.keys[g.rng.IntN(len(a.keys))]...)
		b = append(b, `"},`...)
	} else {
		b = append(b, `null,`...)
	}
	b = append(b, `"additionalEventData":{"SignatureVersion":"SigV4","CipherSuite":"TLS_AES_128_GCM_SHA256","bytesTransferredIn":`...)
	in, out := 0, int64(g.rng.IntN(1<<20))
	if name == "PutObject" {
		in, out = g.rng.IntN(8<<20), 0
	}
	b = strconv.AppendInt(b, int64(in), 10)
	b = append(b, `,"AuthenticationMethod":"AuthHeader","x-amz-id-2":"`...)
	b = appendHex(b, g.rng, 76)
	b = append(b, `","bytesTransferredOut":`...)
	b = strconv.AppendInt(b, out, 10)
	b = append(b, `},"resources":[{"type":"AWS::S3::Object","ARN":"arn:aws:s3:::`...)
	b = append(b, bucket...)
	b = append(b, '/')
	b = append(b, b[key:keyEnd]...)
	b = append(b, `"},{"accountId":"`...)
	b = append(b, account...)
	b = append(b, `","type":"AWS::S3::Bucket","ARN":"arn:aws:s3:::`...)
	b = append(b, bucket...)
	b = append(b, `"}],`...)
	return g.trailer(b, account, name != "PutObject", "Data", !id.service, bucket+".s3."+region+".amazonaws.com")
}

func appendKMS(g *noiseGen, b []byte, a *noiseAccount, account, region string) []byte {
	name := "Decrypt"
	if g.rng.IntN(3) == 0 {
		name = "GenerateDataKey"
	}
	id := g.identity(a, true)
	keyID := a.keys[g.rng.IntN(len(a.keys))]
	b = g.header(b, a, g.now, region, "kms.amazonaws.com", name, id)
	b = append(b, `"requestParameters":{"encryptionContext":{`...)
	for i, n := 0, 1+g.rng.IntN(4); i < n; i++ {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `"aws:`...)
		b = append(b, g.word()...)
		b = append(b, `:arn":"arn:aws:s3:::`...)
		b = append(b, a.buckets[g.rng.IntN(len(a.buckets))]...)
		b = append(b, '/')
		b = append(b, g.word()...)
		b = append(b, '/')
		b = appendHex(b, g.rng, 24)
		b = append(b, '"')
	}
	b = append(b, `},"encryptionAlgorithm":"SYMMETRIC_DEFAULT"`...)
	if name == "GenerateDataKey" {
		b = append(b, `,"keySpec":"AES_256","keyId":"arn:aws:kms:`...)
		b = append(b, region...)
		b = append(b, ':')
		b = append(b, account...)
		b = append(b, `:key/`...)
		b = append(b, keyID...)
		b = append(b, '"')
	}
	b = append(b, `},"responseElements":null,"resources":[{"accountId":"`...)
	b = append(b, account...)
	b = append(b, `","type":"AWS::KMS::Key","ARN":"arn:aws:kms:`...)
	b = append(b, region...)
	b = append(b, ':')
	b = append(b, account...)
	b = append(b, `:key/`...)
	b = append(b, keyID...)
	b = append(b, `"}],`...)
	return g.trailer(b, account, true, "Management", false, "")
}

func appendAssumeRole(g *noiseGen, b []byte, a *noiseAccount, account, region string) []byte {
	id := g.identity(a, true)
	role := noiseRoles[g.rng.IntN(len(noiseRoles))]
	b = g.header(b, a, g.now, region, "sts.amazonaws.com", "AssumeRole", id)
	b = append(b, `"requestParameters":{"roleArn":"arn:aws:iam::`...)
	b = append(b, account...)
	b = append(b, `:role/`...)
	b = append(b, role...)
	b = append(b, `","roleSessionName":"`...)
	sess := len(b)
	b = append(b, "session-"...)
	b = appendHex(b, g.rng, 12)
	sessEnd := len(b)
	b = append(b, `","durationSeconds":3600},"responseElements":{"credentials":{"accessKeyId":"ASIA`...)
	b = appendUpperAlnum(b, g.rng, 16)
	b = append(b, `","sessionToken":"IQoJb3JpZ2luX2Vj`...)
	b = appendUpperAlnum(b, g.rng, 120+g.rng.IntN(400))
	b = append(b, `","expiration":"Jan 1, 2027, 12:00:00 AM"},"assumedRoleUser":{"assumedRoleId":"AROA`...)
	b = appendUpperAlnum(b, g.rng, 17)
	b = append(b, ':')
	b = append(b, b[sess:sessEnd]...)
	b = append(b, `","arn":"arn:aws:sts::`...)
	b = append(b, account...)
	b = append(b, `:assumed-role/`...)
	b = append(b, role...)
	b = append(b, '/')
	b = append(b, b[sess:sessEnd]...)
	b = append(b, `"}},"resources":[{"accountId":"`...)
	b = append(b, account...)
	b = append(b, `","type":"AWS::IAM::Role","ARN":"arn:aws:iam::`...)
	b = append(b, account...)
	b = append(b, `:role/`...)
	b = append(b, role...)
	b = append(b, `"}],`...)
	return g.trailer(b, account, true, "Management", !id.service, "sts."+region+".amazonaws.com")
}

func appendEC2Describe(g *noiseGen, b []byte, a *noiseAccount, account, region string) []byte {
	names := [...]string{"DescribeInstances", "DescribeSecurityGroups", "DescribeVolumes", "DescribeNetworkInterfaces", "DescribeSubnets"}
	name := names[g.rng.IntN(len(names))]
	id := g.identity(a, false)
	b = g.header(b, a, g.now, region, "ec2.amazonaws.com", name, id)
	b = append(b, `"requestParameters":{"maxResults":1000,"filterSet":{"items":[`...)
	for i, n := 0, g.rng.IntN(4); i < n; i++ {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"name":"`...)
		b = append(b, ec2Filters[g.rng.IntN(len(ec2Filters))]...)
		b = append(b, `","valueSet":{"items":[{"value":"`...)
		b = append(b, g.word()...)
		b = append(b, `"}]}}`...)
	}
	b = append(b, `]},"instancesSet":{"items":[`...)
	for i, n := 0, g.rng.IntN(30); i < n; i++ {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"instanceId":"i-0`...)
		b = appendHex(b, g.rng, 16)
		b = append(b, `"}`...)
	}
	b = append(b, `]}},"responseElements":null,`...)
	return g.trailer(b, account, true, "Management", true, "ec2."+region+".amazonaws.com")
}

func appendIAMGet(g *noiseGen, b []byte, a *noiseAccount, account, _ string) []byte {
	names := [...]string{"GetRole", "GetPolicy", "ListAttachedRolePolicies", "GetRolePolicy", "GetUser"}
	name := names[g.rng.IntN(len(names))]
	id := g.identity(a, false)
	// IAM is a global service: CloudTrail records it in us-east-1.
	b = g.header(b, a, g.now, "us-east-1", "iam.amazonaws.com", name, id)
	b = append(b, `"requestParameters":{`...)
	switch name {
	case "GetPolicy":
		b = append(b, `"policyArn":"arn:aws:iam::`...)
		b = append(b, account...)
		b = append(b, `:policy/`...)
		b = append(b, g.word()...)
		b = append(b, `-access"`...)
	case "GetUser":
		b = append(b, `"userName":"`...)
		b = append(b, noiseUsers[g.rng.IntN(len(noiseUsers))]...)
		b = append(b, '"')
	default:
		b = append(b, `"roleName":"`...)
		b = append(b, noiseRoles[g.rng.IntN(len(noiseRoles))]...)
		b = append(b, '"')
		if name == "GetRolePolicy" {
			b = append(b, `,"policyName":"inline-`...)
			b = append(b, g.word()...)
			b = append(b, '"')
		}
	}
	b = append(b, `},"responseElements":null,`...)
	return g.trailer(b, account, true, "Management", true, "iam.amazonaws.com")
}

func appendLambdaInvoke(g *noiseGen, b []byte, a *noiseAccount, account, region string) []byte {
	id := g.identity(a, true)
	fn := a.functions[g.rng.IntN(len(a.functions))]
	b = g.header(b, a, g.now, region, "lambda.amazonaws.com", "Invoke", id)
	b = append(b, `"requestParameters":{"functionName":"arn:aws:lambda:`...)
	b = append(b, region...)
	b = append(b, ':')
	b = append(b, account...)
	b = append(b, `:function:`...)
	b = append(b, fn...)
	b = append(b, `","invocationType":"Event","sourceArn":"arn:aws:sqs:`...)
	b = append(b, region...)
	b = append(b, ':')
	b = append(b, account...)
	b = append(b, ':')
	b = append(b, g.word()...)
	b = append(b, `-queue"},"responseElements":null,"additionalEventData":{"functionVersion":"arn:aws:lambda:`...)
	b = append(b, region...)
	b = append(b, ':')
	b = append(b, account...)
	b = append(b, `:function:`...)
	b = append(b, fn...)
	b = append(b, `:$LATEST"},"resources":[{"accountId":"`...)
	b = append(b, account...)
	b = append(b, `","type":"AWS::Lambda::Function","ARN":"arn:aws:lambda:`...)
	b = append(b, region...)
	b = append(b, ':')
	b = append(b, account...)
	b = append(b, `:function:`...)
	b = append(b, fn...)
	b = append(b, `"}],`...)
	return g.trailer(b, account, false, "Data", false, "")
}

func appendLogs(g *noiseGen, b []byte, a *noiseAccount, account, region string) []byte {
	names := [...]string{"CreateLogStream", "DescribeLogGroups", "DescribeLogStreams", "FilterLogEvents"}
	name := names[g.rng.IntN(len(names))]
	id := g.identity(a, true)
	b = g.header(b, a, g.now, region, "logs.amazonaws.com", name, id)
	b = append(b, `"requestParameters":{"logGroupName":"`...)
	b = append(b, logGroupPrefix[g.rng.IntN(len(logGroupPrefix))]...)
	b = append(b, a.functions[g.rng.IntN(len(a.functions))]...)
	b = append(b, `","logStreamName":"2026/01/01/[$LATEST]`...)
	b = appendHex(b, g.rng, 32)
	b = append(b, `"},"responseElements":null,`...)
	return g.trailer(b, account, name != "CreateLogStream", "Management", !id.service, "logs."+region+".amazonaws.com")
}

func appendCloudWatch(g *noiseGen, b []byte, a *noiseAccount, account, region string) []byte {
	name := "GetMetricData"
	if g.rng.IntN(3) == 0 {
		name = "DescribeAlarms"
	}
	id := g.identity(a, false)
	b = g.header(b, a, g.now, region, "monitoring.amazonaws.com", name, id)
	b = append(b, `"requestParameters":{`...)
	if name == "DescribeAlarms" {
		b = append(b, `"alarmNamePrefix":"`...)
		b = append(b, g.word()...)
		b = append(b, `","maxRecords":100`...)
	} else {
		b = append(b, `"metricDataQueries":[`...)
		for i, n := 0, 1+g.rng.IntN(8); i < n; i++ {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"id":"m`...)
			b = strconv.AppendInt(b, int64(i), 10)
			b = append(b, `","metricStat":{"metric":{"namespace":"AWS/Lambda","metricName":"Duration","dimensions":[{"name":"FunctionName","value":"`...)
			b = append(b, a.functions[g.rng.IntN(len(a.functions))]...)
			b = append(b, `"}]},"period":60,"stat":"Average"},"returnData":true}`...)
		}
		b = append(b, `],"startTime":"Jan 1, 2026, 12:00:00 AM","endTime":"Jan 1, 2026, 1:00:00 AM"`...)
	}
	b = append(b, `},"responseElements":null,`...)
	return g.trailer(b, account, true, "Management", true, "monitoring."+region+".amazonaws.com")
}

func appendDynamoDB(g *noiseGen, b []byte, a *noiseAccount, account, region string) []byte {
	names := [...]string{"GetItem", "PutItem", "Query", "UpdateItem"}
	name := names[g.rng.IntN(len(names))]
	id := g.identity(a, false)
	table := a.tables[g.rng.IntN(len(a.tables))]
	b = g.header(b, a, g.now, region, "dynamodb.amazonaws.com", name, id)
	b = append(b, `"requestParameters":{"tableName":"`...)
	b = append(b, table...)
	b = append(b, `","key":{`...)
	for i, n := 0, 1+g.rng.IntN(2); i < n; i++ {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, dynamoAttrs[g.rng.IntN(len(dynamoAttrs))]...)
		b = append(b, `":"HIDDEN_DUE_TO_SECURITY_REASONS"`...)
	}
	b = append(b, `},"consistentRead":false,"returnConsumedCapacity":"TOTAL"},"responseElements":null,"resources":[{"accountId":"`...)
	b = append(b, account...)
	b = append(b, `","type":"AWS::DynamoDB::Table","ARN":"arn:aws:dynamodb:`...)
	b = append(b, region...)
	b = append(b, ':')
	b = append(b, account...)
	b = append(b, `:table/`...)
	b = append(b, table...)
	b = append(b, `"}],`...)
	return g.trailer(b, account, name == "GetItem" || name == "Query", "Data", true, "dynamodb."+region+".amazonaws.com")
}

func appendGlue(g *noiseGen, b []byte, a *noiseAccount, account, region string) []byte {
	names := [...]string{"GetTable", "GetPartitions", "GetDatabase", "BatchGetPartition"}
	name := names[g.rng.IntN(len(names))]
	id := g.identity(a, true)
	b = g.header(b, a, g.now, region, "glue.amazonaws.com", name, id)
	b = append(b, `"requestParameters":{"catalogId":"`...)
	b = append(b, account...)
	b = append(b, `","databaseName":"`...)
	b = append(b, g.word()...)
	b = append(b, `"`...)
	if name != "GetDatabase" {
		b = append(b, `,"tableName":"`...)
		b = append(b, a.tables[g.rng.IntN(len(a.tables))]...)
		b = append(b, '"')
	}
	if name == "GetPartitions" {
		b = append(b, `,"expression":"dt >= '2026-01-01' AND region IN ('`...)
		b = append(b, region...)
		b = append(b, `')","maxResults":1000`...)
	}
	b = append(b, `},"responseElements":null,`...)
	return g.trailer(b, account, true, "Management", !id.service, "glue."+region+".amazonaws.com")
}

func appendSecret(g *noiseGen, b []byte, a *noiseAccount, account, region string) []byte {
	id := g.identity(a, false)
	b = g.header(b, a, g.now, region, "secretsmanager.amazonaws.com", "GetSecretValue", id)
	b = append(b, `"requestParameters":{"secretId":"arn:aws:secretsmanager:`...)
	b = append(b, region...)
	b = append(b, ':')
	b = append(b, account...)
	b = append(b, `:secret:prod/`...)
	b = append(b, g.word()...)
	b = append(b, '-')
	b = appendUpperAlnum(b, g.rng, 6)
	b = append(b, `"},"responseElements":null,`...)
	return g.trailer(b, account, true, "Management", true, "secretsmanager."+region+".amazonaws.com")
}
