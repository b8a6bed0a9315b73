package lake

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/athenawatch/athenawatch/internal/cloudtrail"
)

// DDLOptions say where the tables are.
type DDLOptions struct {
	// Location is the export's --to, an s3:// URL: the usage table and
	// athena_api_output live under it.
	Location string
	// Trail is the CloudTrail location: s3://BUCKET[/PREFIX], the folder
	// that holds AWSLogs/, or .../AWSLogs/o-ORGID for an organization trail.
	Trail string
	// Accounts and Regions are the values the trail table projects (the
	// accounts and regions collected); From is the first day it projects,
	// YYYY-MM-DD.
	Accounts, Regions []string
	From              string
}

var (
	regionRE = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d{1,2}$`)
	orgRE    = regexp.MustCompile(`^o-[a-z0-9]{10,32}$`)
	dayRE    = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)
)

// Placeholders stand for what the user did not say; the statements then
// need editing, and the text says so.
const (
	placeholderLocation = "s3://EXPORT-BUCKET/athenawatch"
	placeholderTrail    = "s3://TRAIL-BUCKET"
	placeholderAccount  = "111122223333"
	placeholderRegion   = "us-east-1"
)

// s3Location checks that loc is an s3:// URL fit to quote in DDL and
// returns it without a trailing slash.
func s3Location(flag, loc string) (string, error) {
	u, err := url.Parse(loc)
	if err != nil || u.Scheme != "s3" || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || strings.ContainsAny(loc, "'\\\n\r\t ${}") {
		return "", fmt.Errorf("%s %q: want s3://BUCKET/PREFIX", flag, loc)
	}
	return strings.TrimRight(loc, "/"), nil
}

// DDL returns the Athena statements, in the order to run them: the
// CloudTrail table with partition projection on account, region and day;
// the seed's athena_api_output; the exported usage table; and the view
// that joins the first two as the seed did. Values that cannot be quoted
// safely are refused.
func DDL(o DDLOptions) (string, error) {
	var notes []string
	loc := placeholderLocation
	if o.Location != "" {
		var err error
		if loc, err = s3Location("--location", o.Location); err != nil {
			return "", err
		}
	} else {
		notes = append(notes, "replace "+placeholderLocation+" with the export's --to")
	}
	trail := placeholderTrail + "/AWSLogs"
	org := ""
	if o.Trail != "" {
		t, err := s3Location("--trail", o.Trail)
		if err != nil {
			return "", err
		}
		base := t[strings.LastIndex(t, "/")+1:]
		switch {
		case orgRE.MatchString(base) && strings.HasSuffix(strings.TrimSuffix(t, "/"+base), "/AWSLogs"):
			org, trail = base, strings.TrimSuffix(t, "/"+base)
		case base == "AWSLogs":
			trail = t
		default:
			trail = t + "/AWSLogs"
		}
	} else {
		notes = append(notes, "replace "+placeholderTrail+" with the trail's bucket and prefix")
	}
	accounts, badAccounts := valid(o.Accounts, cloudtrail.IsAccountID)
	if len(accounts) == 0 {
		accounts = []string{placeholderAccount}
		notes = append(notes, "list the trail's accounts in projection.account.values")
	}
	regions, badRegions := valid(o.Regions, regionRE.MatchString)
	if len(regions) == 0 {
		regions = []string{placeholderRegion}
		notes = append(notes, "list the trail's regions in projection.region.values")
	}
	from := "2020-01-01"
	if dayRE.MatchString(o.From) {
		from = o.From
	}
	trailRoot := trail + "/"
	if org != "" {
		trailRoot = trail + "/" + org + "/"
	}

	var b strings.Builder
	b.WriteString("-- Athena DDL written by athenawatch ddl. Run each statement in the Athena\n-- query editor (one at a time), in a database of your choice.\n")
	if org != "" {
		fmt.Fprintf(&b, "-- The trail is an organization trail (%s).\n", org)
	}
	for _, n := range notes {
		fmt.Fprintf(&b, "-- Before running: %s.\n", n)
	}
	for _, v := range badAccounts {
		fmt.Fprintf(&b, "-- Left out, not an account id: %s\n", strconv.QuoteToASCII(v))
	}
	for _, v := range badRegions {
		fmt.Fprintf(&b, "-- Left out, not a region: %s\n", strconv.QuoteToASCII(v))
	}

	// The CloudTrail table: the current record format, as the Athena
	// documentation's partition projection example, projected over
	// account and region too so that one table reads every account and
	// region of the trail.
	fmt.Fprintf(&b, `
-- CloudTrail: every management event of the trail, partitioned by account,
-- region and day (partition projection: no partitions to add).
CREATE EXTERNAL TABLE IF NOT EXISTS cloudtrail_logs (
    eventversion STRING,
    useridentity STRUCT<
        type: STRING, principalid: STRING, arn: STRING, accountid: STRING,
        invokedby: STRING, accesskeyid: STRING, username: STRING,
        onbehalfof: STRUCT<userid: STRING, identitystorearn: STRING>,
        sessioncontext: STRUCT<
            attributes: STRUCT<mfaauthenticated: STRING, creationdate: STRING>,
            sessionissuer: STRUCT<type: STRING, principalid: STRING, arn: STRING, accountid: STRING, username: STRING>,
            ec2roledelivery: STRING,
            webidfederationdata: STRUCT<federatedprovider: STRING, attributes: MAP<STRING, STRING>>,
            sourceidentity: STRING>>,
    eventtime STRING,
    eventsource STRING,
    eventname STRING,
    awsregion STRING,
    sourceipaddress STRING,
    useragent STRING,
    errorcode STRING,
    errormessage STRING,
    requestparameters STRING,
    responseelements STRING,
    additionaleventdata STRING,
    requestid STRING,
    eventid STRING,
    readonly STRING,
    resources ARRAY<STRUCT<arn: STRING, accountid: STRING, type: STRING>>,
    eventtype STRING,
    apiversion STRING,
    recipientaccountid STRING,
    serviceeventdetails STRING,
    sharedeventid STRING,
    vpcendpointid STRING,
    vpcendpointaccountid STRING,
    eventcategory STRING,
    addendum STRUCT<reason: STRING, updatedfields: STRING, originalrequestid: STRING, originaleventid: STRING>,
    sessioncredentialfromconsole STRING,
    edgedevicedetails STRING,
    tlsdetails STRUCT<tlsversion: STRING, ciphersuite: STRING, clientprovidedhostheader: STRING>)
PARTITIONED BY (account STRING, region STRING, `+"`timestamp`"+` STRING)
ROW FORMAT SERDE 'org.apache.hive.hcatalog.data.JsonSerDe'
STORED AS INPUTFORMAT 'com.amazon.emr.cloudtrail.CloudTrailInputFormat'
OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'
LOCATION '%s'
TBLPROPERTIES (
    'projection.enabled' = 'true',
    'projection.account.type' = 'enum',
    'projection.account.values' = '%s',
    'projection.region.type' = 'enum',
    'projection.region.values' = '%s',
    'projection.timestamp.type' = 'date',
    'projection.timestamp.format' = 'yyyy/MM/dd',
    'projection.timestamp.interval' = '1',
    'projection.timestamp.interval.unit' = 'DAYS',
    'projection.timestamp.range' = '%s,NOW',
    'storage.location.template' = '%s${account}/CloudTrail/${region}/${timestamp}');
`, trailRoot, strings.Join(accounts, ","), strings.Join(regions, ","), strings.ReplaceAll(from, "-", "/"), trailRoot)

	// The seed's table, as its collector wrote it; projected on dt so
	// that no partition needs adding.
	fmt.Fprintf(&b, `
-- athena_api_output: one row per query as the seed's collector wrote it
-- (athenawatch export --format csv writes it too).
CREATE EXTERNAL TABLE IF NOT EXISTS athena_api_output (
%s)
PARTITIONED BY (dt STRING)
ROW FORMAT SERDE 'org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe'
WITH SERDEPROPERTIES ('serialization.format' = ',', 'field.delim' = ',')
LOCATION '%s/%s/'
TBLPROPERTIES (
    'has_encrypted_data' = 'false',
%s
`, columnList(APIOutputColumns), loc, APIOutputTable, dtProjection(loc, APIOutputTable, from))

	fmt.Fprintf(&b, `
-- athenawatch_usage: one row per query with who ran it, what it scanned and
-- what it cost (athenawatch export --format parquet). Timestamps are UTC.
CREATE EXTERNAL TABLE IF NOT EXISTS athenawatch_usage (
%s)
PARTITIONED BY (dt STRING)
STORED AS PARQUET
LOCATION '%s/%s/'
TBLPROPERTIES (
%s
`, columnList(Columns), loc, UsageTable, dtProjection(loc, UsageTable, from))

	b.WriteString(`
-- athena_queries: the seed's join of who started each query (CloudTrail)
-- with what it did (athena_api_output). Filter on trail_day (yyyy/MM/dd) and
-- dt (yyyy-MM-dd) to read only the days you need.
CREATE OR REPLACE VIEW athena_queries AS
SELECT
    o.queryid AS query_id,
    ct.useridentity.arn AS principal_arn,
    ct.useridentity.type AS identity_type,
    COALESCE(ct.useridentity.sessioncontext.sessionissuer.username, ct.useridentity.username) AS principal_name,
    ct.recipientaccountid AS account,
    ct.awsregion AS region,
    json_extract_scalar(ct.requestparameters, '$.workGroup') AS workgroup,
    o.querydatabase AS database,
    o.status AS state,
    o.datascanned AS bytes_scanned,
    o.executiontime AS engine_ms,
    o.submissiondatetime AS submitted,
    o.completiondatetime AS completed,
    from_iso8601_timestamp(ct.eventtime) AS event_time,
    ct."timestamp" AS trail_day,
    o.dt
FROM cloudtrail_logs ct
JOIN athena_api_output o
  ON o.queryid = json_extract_scalar(ct.responseelements, '$.queryExecutionId')
WHERE ct.eventsource = 'athena.amazonaws.com'
  AND ct.eventname = 'StartQueryExecution';
`)
	return b.String(), nil
}

// dtProjection is the table properties that project the day partitions
// (dt=YYYY-MM-DD) of table under loc from the day from to today.
func dtProjection(loc, table, from string) string {
	return fmt.Sprintf(`    'projection.enabled' = 'true',
    'projection.dt.type' = 'date',
    'projection.dt.format' = 'yyyy-MM-dd',
    'projection.dt.interval' = '1',
    'projection.dt.interval.unit' = 'DAYS',
    'projection.dt.range' = '%s,NOW',
    'storage.location.template' = '%s/%s/dt=${dt}/');`, from, loc, table)
}

func columnList(cols []Column) string {
	lines := make([]string, len(cols))
	for i, c := range cols {
		lines[i] = "    `" + c.Name + "` " + strings.ToUpper(c.Type)
	}
	return strings.Join(lines, ",\n")
}

// valid returns the distinct values of vs that ok accepts, sorted, and
// those it does not (they come from trail records: untrusted).
func valid(vs []string, ok func(string) bool) (good, bad []string) {
	for _, v := range vs {
		switch {
		case ok(v):
			if !slices.Contains(good, v) {
				good = append(good, v)
			}
		case v != "" && !slices.Contains(bad, v):
			bad = append(bad, v)
		}
	}
	slices.Sort(good)
	return good, bad
}
