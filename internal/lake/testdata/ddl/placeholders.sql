-- Athena DDL written by athenawatch ddl. Run each statement in the Athena
-- query editor (one at a time), in a database of your choice.
-- Before running: replace s3://EXPORT-BUCKET/athenawatch with the export's --to.
-- Before running: replace s3://TRAIL-BUCKET with the trail's bucket and prefix.
-- Before running: list the trail's accounts in projection.account.values.
-- Before running: list the trail's regions in projection.region.values.

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
PARTITIONED BY (account STRING, region STRING, `timestamp` STRING)
ROW FORMAT SERDE 'org.apache.hive.hcatalog.data.JsonSerDe'
STORED AS INPUTFORMAT 'com.amazon.emr.cloudtrail.CloudTrailInputFormat'
OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'
LOCATION 's3://TRAIL-BUCKET/AWSLogs/'
TBLPROPERTIES (
    'projection.enabled' = 'true',
    'projection.account.type' = 'enum',
    'projection.account.values' = '111122223333',
    'projection.region.type' = 'enum',
    'projection.region.values' = 'us-east-1',
    'projection.timestamp.type' = 'date',
    'projection.timestamp.format' = 'yyyy/MM/dd',
    'projection.timestamp.interval' = '1',
    'projection.timestamp.interval.unit' = 'DAYS',
    'projection.timestamp.range' = '2020/01/01,NOW',
    'storage.location.template' = 's3://TRAIL-BUCKET/AWSLogs/${account}/CloudTrail/${region}/${timestamp}');

-- athena_api_output: one row per query as the seed's collector wrote it
-- (athenawatch export --format csv writes it too).
CREATE EXTERNAL TABLE IF NOT EXISTS athena_api_output (
    `queryid` STRING,
    `querydatabase` STRING,
    `executiontime` BIGINT,
    `datascanned` BIGINT,
    `status` STRING,
    `submissiondatetime` STRING,
    `completiondatetime` STRING)
PARTITIONED BY (dt STRING)
ROW FORMAT SERDE 'org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe'
WITH SERDEPROPERTIES ('serialization.format' = ',', 'field.delim' = ',')
LOCATION 's3://EXPORT-BUCKET/athenawatch/athena_api_output/'
TBLPROPERTIES (
    'has_encrypted_data' = 'false',
    'projection.enabled' = 'true',
    'projection.dt.type' = 'date',
    'projection.dt.format' = 'yyyy-MM-dd',
    'projection.dt.interval' = '1',
    'projection.dt.interval.unit' = 'DAYS',
    'projection.dt.range' = '2020-01-01,NOW',
    'storage.location.template' = 's3://EXPORT-BUCKET/athenawatch/athena_api_output/dt=${dt}/');

-- athenawatch_usage: one row per query with who ran it, what it scanned and
-- what it cost (athenawatch export --format parquet). Timestamps are UTC.
CREATE EXTERNAL TABLE IF NOT EXISTS athenawatch_usage (
    `query_id` STRING,
    `region` STRING,
    `account` STRING,
    `user` STRING,
    `role` STRING,
    `team` STRING,
    `principal_arn` STRING,
    `database` STRING,
    `workgroup` STRING,
    `state` STRING,
    `statement_type` STRING,
    `bytes_scanned` BIGINT,
    `billed_bytes` BIGINT,
    `cost_usd` DOUBLE,
    `engine_ms` BIGINT,
    `dpu_hours` DOUBLE,
    `submitted_at` TIMESTAMP,
    `completed_at` TIMESTAMP,
    `fingerprint` STRING,
    `event_time` TIMESTAMP,
    `query_account` STRING,
    `identity_type` STRING,
    `source_identity` STRING,
    `catalog` STRING,
    `stats_status` STRING,
    `total_ms` BIGINT,
    `queue_ms` BIGINT,
    `planning_ms` BIGINT,
    `service_processing_ms` BIGINT,
    `provisioned` BOOLEAN,
    `dpu_count` DOUBLE,
    `reused_result` BOOLEAN,
    `engine_version` STRING,
    `cost_known` BOOLEAN,
    `error_category` INT)
PARTITIONED BY (dt STRING)
STORED AS PARQUET
LOCATION 's3://EXPORT-BUCKET/athenawatch/usage/'
TBLPROPERTIES (
    'projection.enabled' = 'true',
    'projection.dt.type' = 'date',
    'projection.dt.format' = 'yyyy-MM-dd',
    'projection.dt.interval' = '1',
    'projection.dt.interval.unit' = 'DAYS',
    'projection.dt.range' = '2020-01-01,NOW',
    'storage.location.template' = 's3://EXPORT-BUCKET/athenawatch/usage/dt=${dt}/');

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
