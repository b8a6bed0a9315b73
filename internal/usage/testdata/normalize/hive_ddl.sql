CREATE EXTERNAL TABLE IF NOT EXISTS cloudtrail_logs_2024 (
  eventVersion STRING,
  userIdentity STRUCT<type: STRING, principalId: STRING>,
  requestParameters STRING
)
PARTITIONED BY (region string, year string)
ROW FORMAT SERDE 'com.amazon.emr.hive.serde.CloudTrailSerde'
STORED AS INPUTFORMAT 'com.amazon.emr.cloudtrail.CloudTrailInputFormat'
OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'
LOCATION 's3://bucket/AWSLogs/111122223333/CloudTrail/'
TBLPROPERTIES ('projection.enabled'='true', 'projection.year.range'='2020,2030');