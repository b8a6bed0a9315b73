-- Query 2 different time windows for comparison, return sources that have events over the past time window but not within the current time window.
-- Past time windows: 2 hours
-- Current time window: 1 hour

WITH PastCount as
(
select p_source_label, count(*)  as PastTotal
from panther_views.all_logs 
WHERE p_parse_time >= current_timestamp - interval '7200' second
    and partition_time >= to_unixtime(date_trunc('HOUR', current_timestamp - interval '7200' second))
    group by p_source_label
),
CurrentCount as 
(
select  p_source_label, count(*)  as CurrentTotal
from panther_views.all_logs 
WHERE p_parse_time >= current_timestamp - interval '3600' second
    and partition_time >= to_unixtime(date_trunc('HOUR', current_timestamp - interval '3600' second))
    group by p_source_label
)
SELECT PastCount.*, coalesce(CurrentCount.CurrentTotal, 0) AS CurrentTotal 
FROM CurrentCount 
RIGHT OUTER JOIN PastCount ON PastCount.p_source_label = CurrentCount.p_source_label
WHERE CurrentTotal IS NULL